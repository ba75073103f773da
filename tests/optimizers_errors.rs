//! Invalid hyper-parameters are rejected with a typed error naming the parameter (the papers'
//! names), and scheduled values that turn invalid mid-run stop the step without touching x.

#[path = "optimizers_common.rs"]
mod common;

use common::quadratic;
use nalgebra::DVector;
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::*;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::{Averaging, NoiseScale};
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum, Sgd, WeightDecay};
use wide_valleys::Optimizer;
use wide_valleys::{Error, Result, Schedule};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

fn name<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
    match r {
        Err(Error::InvalidHyperParameter { name, .. }) => name,
        other => panic!("expected InvalidHyperParameter, got {other:?}"),
    }
}

#[test]
fn constructors_reject_invalid_hyper_parameters() {
    for bad in [0.0, -1.0, NAN] {
        assert_eq!(name(EntropySgd::new(bad, 5, 0.1)), "scope");
        assert_eq!(name(HamiltonJacobi::new(bad, 5, 0.1)), "scope");
        assert_eq!(name(Heat::new(bad, 5, 0.1)), "scope");
        assert_eq!(name(EntropySgd::new(1.0, 5, bad)), "learning_rate");
        assert_eq!(name(Sam::new(bad, 0.1)), "radius");
        assert_eq!(
            name(EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    1.0,
                    ExponentialSgld::new(5).langevin_step(bad)
                ),
                0.1
            )),
            "langevin_step"
        );
        assert_eq!(
            name(HamiltonJacobi::with_oracle(
                HopfLaxGradient::new(1.0, 5).inner_step(bad),
                0.1
            )),
            "inner_step"
        );
        assert_eq!(name(Parle::new(2, bad, 1.0, 5, 0.1)), "scope");
        assert_eq!(name(Parle::new(2, 1.0, bad, 5, 0.1)), "coupling");
        assert_eq!(name(ElasticSgd::elastic(2, bad, 0.1)), "coupling");
        assert_eq!(name(TrivializedSgd::new(1.0, 3, 5, bad, 0.1)), "tau0");
        assert_eq!(name(Adam::new(0.9, 0.999, bad)), "eps");
    }
    // +∞ switches a coupling off (003 §5.3.1) but is not a valid heat variance, radius or step.
    assert!(EntropySgd::new(INF, 5, 0.1).is_ok());
    assert!(Parle::new(2, INF, INF, 5, 0.1).is_ok());
    assert_eq!(name(Heat::new(INF, 5, 0.1)), "scope");
    assert_eq!(name(Sam::new(INF, 0.1)), "radius");
    assert_eq!(name(EntropySgd::new(1.0, 5, INF)), "learning_rate");
    // Counts.
    assert_eq!(name(EntropySgd::new(1.0, 0, 0.1)), "langevin_steps");
    assert_eq!(name(HamiltonJacobi::new(1.0, 0, 0.1)), "langevin_steps");
    assert_eq!(name(Heat::new(1.0, 0, 0.1)), "samples");
    assert_eq!(name(Parle::new(0, 1.0, 1.0, 5, 0.1)), "replicas");
    assert_eq!(name(Parle::new(2, 1.0, 1.0, 0, 0.1)), "langevin_steps");
    assert_eq!(name(Parle::new(2, 1.0, 1.0, 1, 0.1).threads(0)), "threads");
    assert_eq!(name(TrivializedSgd::new(1.0, 1, 5, 10.0, 0.1)), "layers");
    assert_eq!(name(TrivializedSgd::new(1.0, 3, 0, 10.0, 0.1)), "neurons");
    assert_eq!(name(TrivializedSgd::new(NAN, 3, 5, 10.0, 0.1)), "coupling");
    // Temperatures, weights, averaging.
    assert_eq!(
        name(EntropySgd::with_oracle(
            LocalEntropyGradient::with_estimator(1.0, ExponentialSgld::new(5).thermal_noise(-1e-3)),
            0.1
        )),
        "thermal_noise"
    );
    assert_eq!(
        name(EntropySgd::with_oracle(
            LocalEntropyGradient::with_estimator(1.0, ExponentialSgld::new(5).thermal_noise(NAN)),
            0.1
        )),
        "thermal_noise"
    );
    assert!(EntropySgd::with_oracle(
        LocalEntropyGradient::with_estimator(1.0, ExponentialSgld::new(5).thermal_noise(0.0)),
        0.1
    )
    .is_ok());
    assert_eq!(
        name(EntropySgd::with_oracle(
            DataTerm::new(LocalEntropyGradient::new(1.0, 5), -0.5),
            0.1
        )),
        "data_weight"
    );
    assert!(
        EntropySgd::with_oracle(DataTerm::new(LocalEntropyGradient::new(1.0, 5), 0.0), 0.1).is_ok()
    );
    for bad in [0.0, -0.1, 1.5, NAN] {
        assert_eq!(name(Averaging::<f64>::new_sample_weight(bad)), "alpha");
    }
    for bad in [1.0, -0.1, NAN] {
        assert_eq!(name(Averaging::<f64>::old_average_weight(bad)), "alpha");
    }
    // Update rules.
    for bad in [1.0, -0.1, NAN] {
        assert_eq!(name(Momentum::<f64>::nesterov(bad)), "mu");
        assert_eq!(name(Adam::<f64>::new(bad, 0.999, 1e-8)), "beta1");
        assert_eq!(name(Adam::<f64>::new(0.9, bad, 1e-8)), "beta2");
    }
    assert_eq!(
        name(WeightDecay::<f64, Sgd>::new(Sgd, -1.0)),
        "weight_decay"
    );
}

#[test]
fn invalid_scheduled_values_stop_the_step_cleanly() {
    let q = quadratic(4, 1);
    let mut x = DVector::from_element(4, 0.7);
    // A custom scope that becomes NaN at k = 3.
    let scope = Schedule::from_fn(|k| if k < 3 { 1.0 } else { f64::NAN });
    let mut es = EntropySgd::new(scope, 3, 0.1).seed(1);
    for _ in 0..3 {
        es.step(&mut x, &q).unwrap();
    }
    let before = x.clone();
    let rng_before = es.rng().clone();
    assert_eq!(name(es.step(&mut x, &q)), "scope");
    assert_eq!(x, before);
    assert_eq!(es.rng(), &rng_before);
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::steps_taken(&es), 3);
    // A learning-rate schedule that hits 0.
    let mut gd = GradientDescent::new(0.1)
        .learning_rate_schedule(Schedule::from_fn(|k| 0.1 * (1.0 - k as f64)));
    gd.step(&mut x, &q).unwrap();
    let before = x.clone();
    assert_eq!(name(gd.step(&mut x, &q)), "learning_rate");
    assert_eq!(x, before);
    // Parle with a coupling schedule that returns a negative value.
    let mut p = Parle::new(2, 1.0, Schedule::from_fn(|k| 1.0 - k as f64), 2, 0.1);
    p.step(&mut x, &q).unwrap();
    assert_eq!(name(p.step(&mut x, &q)), "coupling");
    // Trivialized-SGD with more neurons than parameters (1 + 2τ/N would go negative).
    let mut t = TrivializedSgd::new(0.1, 3, 5, 10.0, 0.1);
    assert_eq!(name(t.step(&mut x, &q)), "neurons");
}
