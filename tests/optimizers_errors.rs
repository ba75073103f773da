//! Invalid hyper-parameters are reported with a typed error naming the parameter (the papers'
//! names), and scheduled values that turn invalid mid-run stop the step without touching x.
//!
//! The policy (issue 14): constructors and setters take values as given and cannot fail;
//! `validate()` checks everything the next step uses and returns
//! `Error::InvalidHyperParameter { name, .. }`; every `step` runs the same validation first and
//! returns the same error, with x and the optimizer's state unchanged.

#[path = "optimizers_common.rs"]
mod common;

use common::quadratic;
use nalgebra::DVector;
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::*;
use wide_valleys::sampling::{Averaging, ExponentialSgld, NoiseScale};
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum, Sgd, UpdateRule, WeightDecay};
use wide_valleys::Optimizer;
use wide_valleys::{Error, Result, Schedule};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;
/// The dimension of the loss every configuration below is stepped on (≥ 5, so that
/// Trivialized-SGD's 5 neurons fit).
const D: usize = 6;

fn name<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
    match r {
        Err(Error::InvalidHyperParameter { name, .. }) => name,
        other => panic!("expected InvalidHyperParameter, got {other:?}"),
    }
}

fn bits(x: &DVector<f64>) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// The value an `InvalidHyperParameter` error reports.
fn value(e: &Error) -> f64 {
    match e {
        Error::InvalidHyperParameter { value, .. } => *value,
        other => panic!("expected InvalidHyperParameter, got {other:?}"),
    }
}

/// Equal, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// `r` is an error identical to `expected`.
#[track_caller]
fn assert_same_error<T: std::fmt::Debug>(r: Result<T>, expected: &Error, what: &str) {
    match r {
        Err(e) if e == *expected => {}
        other => panic!("{what}: expected {expected:?}, got {other:?}"),
    }
}

/// `opt` was built (constructors take values as given), but `validate()` names `expected`, and
/// a step on a small quadratic returns that very error with x unchanged bit for bit and the
/// counter still 0. Twice: the failed step left nothing behind that changes the next one.
/// Returns the error (to check its value).
#[track_caller]
fn rejected<O: Optimizer<f64, Quadratic<f64>>>(opt: O, expected: &str) -> Error {
    let err = rejected_as_validate_says(opt);
    assert_eq!(name::<()>(Err(err.clone())), expected, "validate(): {err}");
    err
}

/// As [`rejected`], whichever parameter `validate()` names.
#[track_caller]
fn rejected_as_validate_says<O: Optimizer<f64, Quadratic<f64>>>(mut opt: O) -> Error {
    let q = quadratic(D, 1);
    let err = match opt.validate() {
        Err(e @ Error::InvalidHyperParameter { .. }) => e,
        other => panic!("validate(): expected InvalidHyperParameter, got {other:?}"),
    };
    let mut x = common::start(D, 3);
    let before = bits(&x);
    for attempt in 0..2 {
        assert_same_error(
            opt.step(&mut x, &q),
            &err,
            &format!("step {attempt} must return validate()'s error"),
        );
        assert_eq!(bits(&x), before, "x changed by a failed step");
        assert_eq!(opt.steps_taken(), 0, "the counter moved on a failed step");
        assert_same_error(opt.validate(), &err, "validate() after a failed step");
    }
    err
}

/// As [`rejected`], and the error reports the offending value `bad`.
#[track_caller]
fn rejected_value<O: Optimizer<f64, Quadratic<f64>>>(opt: O, expected: &str, bad: f64) {
    let e = rejected(opt, expected);
    assert!(same(value(&e), bad), "{e} should report {bad}");
}

/// A valid configuration: `validate()` is Ok and a step succeeds with a finite x.
#[track_caller]
fn accepted<O: Optimizer<f64, Quadratic<f64>>>(mut opt: O) {
    let q = quadratic(D, 1);
    assert_eq!(opt.validate(), Ok(()));
    let mut x = common::start(D, 3);
    opt.step(&mut x, &q).expect("a valid configuration steps");
    assert!(x.iter().all(|v| v.is_finite()));
    assert_eq!(opt.steps_taken(), 1);
}

fn entropy_sgd_with_chain(chain: ExponentialSgld<f64>) -> EntropySgd {
    EntropySgd::with_oracle(LocalEntropyGradient::with_estimator(1.0, chain), 0.1)
}

#[test]
fn invalid_hyper_parameters_are_named_by_validate_and_by_step() {
    for bad in [0.0, -1.0, NAN] {
        rejected_value(EntropySgd::new(bad, 5, 0.1), "scope", bad);
        rejected_value(HamiltonJacobi::new(bad, 5, 0.1), "scope", bad);
        rejected_value(Heat::new(bad, 5, 0.1), "scope", bad);
        rejected_value(EntropySgd::new(1.0, 5, bad), "learning_rate", bad);
        rejected_value(Heat::new(1.0, 5, bad), "learning_rate", bad);
        rejected_value(GradientDescent::new(bad), "learning_rate", bad);
        rejected_value(Sam::new(bad, 0.1), "radius", bad);
        rejected_value(Sam::new(0.05, bad), "learning_rate", bad);
        rejected_value(
            SmoothedOptimizer::with_oracle(
                SamGradient::around(HeatGradient::new(bad, 3), 0.05),
                0.1,
            ),
            "scope",
            bad,
        );
        rejected_value(
            entropy_sgd_with_chain(ExponentialSgld::new(5).langevin_step(bad)),
            "langevin_step",
            bad,
        );
        // HJ's inner step, under HJ's own name (003 eq. 4.40's η_y).
        rejected_value(
            HamiltonJacobi::with_oracle(HopfLaxGradient::new(1.0, 5).inner_step(bad), 0.1),
            "inner_step",
            bad,
        );
        rejected_value(Parle::new(2, bad, 1.0, 5, 0.1), "scope", bad);
        rejected_value(Parle::new(2, 1.0, bad, 5, 0.1), "coupling", bad);
        rejected_value(ElasticSgd::elastic(2, bad, 0.1), "coupling", bad);
        rejected_value(ElasticSgd::elastic(2, 1.0, bad), "learning_rate", bad);
        rejected_value(
            Parle::with_oracle(2, HeatGradient::new(bad, 3), 1.0, 0.1),
            "scope",
            bad,
        );
        rejected_value(TrivializedSgd::new(1.0, 3, 5, bad, 0.1), "tau0", bad);
        rejected_value(
            TrivializedSgd::new(1.0, 3, 5, 10.0, bad),
            "learning_rate",
            bad,
        );
        rejected_value(
            GradientDescent::new(0.1).with_rule(Adam::new(0.9, 0.999, bad)),
            "eps",
            bad,
        );
    }
    // +∞ switches a coupling off (003 §5.3.1) but is not a valid heat variance, radius or step.
    accepted(EntropySgd::new(INF, 5, 0.1));
    accepted(HamiltonJacobi::new(INF, 5, 0.1));
    accepted(Parle::new(2, INF, INF, 5, 0.1));
    accepted(ElasticSgd::elastic(2, INF, 0.1));
    rejected_value(Heat::new(INF, 5, 0.1), "scope", INF);
    rejected_value(Sam::new(INF, 0.1), "radius", INF);
    rejected_value(EntropySgd::new(1.0, 5, INF), "learning_rate", INF);
    rejected_value(
        entropy_sgd_with_chain(ExponentialSgld::new(5).langevin_step(INF)),
        "langevin_step",
        INF,
    );
    rejected_value(TrivializedSgd::new(1.0, 3, 5, INF, 0.1), "tau0", INF);
    // Counts.
    rejected_value(EntropySgd::new(1.0, 0, 0.1), "langevin_steps", 0.0);
    rejected_value(HamiltonJacobi::new(1.0, 0, 0.1), "inner_steps", 0.0);
    rejected_value(Heat::new(1.0, 0, 0.1), "samples", 0.0);
    rejected_value(Parle::new(0, 1.0, 1.0, 5, 0.1), "replicas", 0.0);
    rejected_value(ElasticSgd::elastic(0, 1.0, 0.1), "replicas", 0.0);
    rejected_value(Parle::new(2, 1.0, 1.0, 0, 0.1), "langevin_steps", 0.0);
    rejected_value(TrivializedSgd::new(1.0, 1, 5, 10.0, 0.1), "layers", 1.0);
    rejected_value(TrivializedSgd::new(1.0, 3, 0, 10.0, 0.1), "neurons", 0.0);
    rejected_value(TrivializedSgd::new(NAN, 3, 5, 10.0, 0.1), "coupling", NAN);
    rejected_value(TrivializedSgd::new(-1.0, 3, 5, 10.0, 0.1), "coupling", -1.0);
    accepted(TrivializedSgd::new(0.0, 3, 5, 10.0, 0.1));
    // A thread pool is a resource, not a hyper-parameter: `threads` is still checked at once.
    assert_eq!(name(Parle::new(2, 1.0, 1.0, 1, 0.1).threads(0)), "threads");
    // Temperatures, weights, averaging: set on the chain, checked through the optimizer.
    for bad in [-1e-3, NAN, INF] {
        rejected_value(
            entropy_sgd_with_chain(ExponentialSgld::new(5).thermal_noise(bad)),
            "thermal_noise",
            bad,
        );
        rejected_value(
            Parle::with_oracle(
                2,
                LocalEntropyGradient::with_estimator(
                    1.0,
                    ExponentialSgld::new(2).thermal_noise(bad),
                )
                .scaled(true),
                1.0,
                0.1,
            ),
            "thermal_noise",
            bad,
        );
    }
    accepted(entropy_sgd_with_chain(
        ExponentialSgld::new(5).thermal_noise(0.0),
    ));
    for scale in [
        NoiseScale::TwoStepTemperature,
        NoiseScale::StepTemperature,
        NoiseScale::SqrtStepTimesAmplitude,
    ] {
        accepted(entropy_sgd_with_chain(
            ExponentialSgld::new(5)
                .noise_scale(scale)
                .thermal_noise(1e-4),
        ));
        rejected(
            entropy_sgd_with_chain(
                ExponentialSgld::new(5)
                    .noise_scale(scale)
                    .thermal_noise(-1.0),
            ),
            "thermal_noise",
        );
    }
    // 004's data weight ρ is the data term's own.
    for bad in [-0.5, NAN, INF] {
        rejected_value(
            SmoothedOptimizer::with_oracle(
                DataTerm::new(LocalEntropyGradient::new(1.0, 5), bad),
                0.1,
            ),
            "data_weight",
            bad,
        );
    }
    accepted(SmoothedOptimizer::with_oracle(
        DataTerm::new(LocalEntropyGradient::new(1.0, 5), 0.0),
        0.1,
    ));
    accepted(SmoothedOptimizer::with_oracle(
        DataTerm::new(LocalEntropyGradient::new(1.0, 5), 0.5),
        0.1,
    ));
    for bad in [0.0, -0.1, 1.5, NAN] {
        let a = Averaging::<f64>::new_sample_weight(bad);
        assert_eq!(name(a.validate()), "alpha");
        rejected_value(
            entropy_sgd_with_chain(ExponentialSgld::new(5).averaging(a)),
            "alpha",
            bad,
        );
    }
    for bad in [1.0, -0.1, NAN] {
        let a = Averaging::<f64>::old_average_weight(bad);
        assert_eq!(name(a.validate()), "alpha");
        // Reported as the new sample's weight 1 − α₀₀₃.
        rejected_value(
            entropy_sgd_with_chain(ExponentialSgld::new(5).averaging(a)),
            "alpha",
            1.0 - bad,
        );
    }
    assert_eq!(Averaging::<f64>::new_sample_weight(1.0).validate(), Ok(()));
    assert_eq!(Averaging::<f64>::old_average_weight(0.0).validate(), Ok(()));
    accepted(entropy_sgd_with_chain(
        ExponentialSgld::new(5).averaging(Averaging::last_iterate()),
    ));
}

/// `Parle::new`'s η is also the chain's inner step η⁽⁰⁾ (003 §5.3.2), so a bad η is wrong twice;
/// with several bad values either name is right, but validate() and the step must report the
/// same one (both check in one order).
#[test]
fn parle_validate_and_step_agree_when_several_values_are_bad() {
    for bad in [0.0, -1.0, NAN, INF] {
        let e = rejected_as_validate_says(Parle::new(2, 1.0, 1.0, 5, bad));
        assert!(["learning_rate", "langevin_step"].contains(&name::<()>(Err(e))));
        if bad != INF {
            // γ = ρ = +∞ is allowed (003 §5.3.1).
            let e = rejected_as_validate_says(Parle::new(2, bad, bad, 5, 0.1));
            assert!(["scope", "coupling"].contains(&name::<()>(Err(e))));
        }
        let e =
            rejected_as_validate_says(Parle::with_oracle(2, HeatGradient::new(bad, 3), 1.0, bad));
        assert!(["scope", "learning_rate"].contains(&name::<()>(Err(e))));
    }
}

/// γ = +∞ switches the proximal term off where the estimator allows it (the Langevin chain), but
/// SGLD, importance sampling and quadrature need τ finite: validate() says so, as `scope`
/// (`MeanEstimator::allows_infinite_tau`).
#[test]
fn an_infinite_scope_is_rejected_by_validate_where_the_estimator_needs_a_finite_one() {
    use wide_valleys::sampling::{ImportanceSampling, Quadrature, Sgld};
    rejected_value(
        SmoothedOptimizer::with_oracle(
            LocalEntropyGradient::with_estimator(INF, ImportanceSampling::new(20)),
            0.1,
        ),
        "scope",
        INF,
    );
    rejected_value(
        SmoothedOptimizer::with_oracle(
            LocalEntropyGradient::with_estimator(INF, Sgld::paper().samples(5)),
            0.1,
        ),
        "scope",
        INF,
    );
    rejected_value(
        SmoothedOptimizer::with_oracle(
            LocalEntropyGradient::with_estimator(INF, Quadrature::default()),
            0.1,
        ),
        "scope",
        INF,
    );
}

#[test]
fn invalid_update_rules_are_named_by_validate_and_by_step() {
    for bad in [1.0, -0.1, NAN, INF] {
        assert_eq!(name(Momentum::<f64>::nesterov(bad).validate()), "mu");
        assert_eq!(name(Momentum::<f64>::classical(bad).validate()), "mu");
        assert_eq!(name(Adam::<f64>::new(bad, 0.999, 1e-8).validate()), "beta1");
        assert_eq!(name(Adam::<f64>::new(0.9, bad, 1e-8).validate()), "beta2");
        rejected_value(
            GradientDescent::new(0.1).with_rule(Momentum::nesterov(bad)),
            "mu",
            bad,
        );
        rejected_value(
            EntropySgd::new(1.0, 3, 0.1).with_rule(Momentum::new(bad, false)),
            "mu",
            bad,
        );
        rejected_value(
            Heat::new(0.1, 3, 0.1).with_rule(Adam::new(bad, 0.999, 1e-8)),
            "beta1",
            bad,
        );
        rejected_value(
            Sam::new(0.05, 0.1).with_rule(Adam::new(0.9, bad, 1e-8)),
            "beta2",
            bad,
        );
        // Parle's replicas share the rule: checked before any replica exists.
        rejected_value(
            Parle::new(2, 1.0, 1.0, 2, 0.1).with_rule(Momentum::nesterov(bad)),
            "mu",
            bad,
        );
        assert_eq!(
            name(WeightDecay::new(Momentum::<f64>::nesterov(bad), 1e-4).validate()),
            "mu"
        );
    }
    for bad in [0.0, -1e-8, NAN, INF] {
        assert_eq!(name(Adam::<f64>::new(0.9, 0.999, bad).validate()), "eps");
    }
    for bad in [-1.0, NAN, INF] {
        assert_eq!(
            name(WeightDecay::<f64, Sgd>::new(Sgd, bad).validate()),
            "weight_decay"
        );
        rejected_value(
            GradientDescent::new(0.1).with_rule(WeightDecay::new(Sgd, bad)),
            "weight_decay",
            bad,
        );
        rejected_value(
            ElasticSgd::elastic(2, 1.0, 0.1)
                .with_rule(WeightDecay::new(Momentum::nesterov(0.9), bad)),
            "weight_decay",
            bad,
        );
    }
    // The wrapped rule is checked too.
    rejected(
        GradientDescent::new(0.1).with_rule(WeightDecay::new(Momentum::nesterov(1.5), 1e-4)),
        "mu",
    );
    assert_eq!(Momentum::<f64>::nesterov(0.0).validate(), Ok(()));
    assert_eq!(Adam::<f64>::standard().validate(), Ok(()));
    accepted(GradientDescent::new(0.1).with_rule(WeightDecay::new(Adam::standard(), 0.0)));
    accepted(Parle::new(2, 1.0, 1.0, 2, 0.1).with_rule(Momentum::nesterov(0.9)));
}

#[test]
fn invalid_schedules_are_named_by_validate_and_by_step() {
    for bad in [0.0, -1.0, NAN, INF] {
        assert_eq!(name(Schedule::geometric(bad, 0.5).validate()), "initial");
        assert_eq!(name(Schedule::geometric(1.0, bad).validate()), "factor");
        rejected_value(
            EntropySgd::new(Schedule::geometric(bad, 0.5), 3, 0.1),
            "initial",
            bad,
        );
        rejected_value(
            Heat::new(Schedule::geometric(0.1, bad), 3, 0.1),
            "factor",
            bad,
        );
        rejected_value(
            GradientDescent::new(0.1).learning_rate_schedule(Schedule::geometric(bad, 0.9)),
            "initial",
            bad,
        );
        rejected_value(
            Parle::new(2, 1.0, Schedule::geometric(1.0, bad).every(2), 2, 0.1),
            "factor",
            bad,
        );
    }
    assert_eq!(
        name(Schedule::geometric(1.0, 0.5).every(0).validate()),
        "every"
    );
    rejected_value(
        Parle::new(2, Schedule::geometric(1.0, 0.5).every(0), 1.0, 2, 0.1),
        "every",
        0.0,
    );
    for bad in [-1.0, NAN, INF] {
        assert_eq!(
            name(Schedule::geometric(1.0, 0.5).clipped(bad, INF).validate()),
            "min"
        );
        rejected_value(
            HamiltonJacobi::new(Schedule::geometric(1.0, 0.5).clipped(bad, INF), 3, 0.1),
            "min",
            bad,
        );
    }
    for bad in [NAN, 0.05] {
        let s = Schedule::geometric(1.0, 0.5).clipped(0.1, bad);
        assert_eq!(name(s.validate()), "max");
        rejected_value(
            ElasticSgd::elastic(2, 1.0, 0.1).learning_rate_schedule(s),
            "max",
            bad,
        );
    }
    // A constant schedule's own parameters are fine; its value is checked where it is used.
    assert_eq!(Schedule::constant(-1.0).validate(), Ok(()));
    rejected_value(
        GradientDescent::new(0.1).learning_rate_schedule(Schedule::constant(-1.0)),
        "learning_rate",
        -1.0,
    );
    let s = Schedule::geometric(1.0, 0.5).every(3).clipped(0.01, 10.0);
    assert_eq!(s.validate(), Ok(()));
    accepted(Parle::new(2, s.clone(), s.clone(), 2, 0.1).learning_rate_schedule(s));
}

#[test]
fn invalid_scheduled_values_stop_the_step_cleanly() {
    let q = quadratic(4, 1);
    let mut x = DVector::from_element(4, 0.7);
    // A custom scope that becomes NaN at k = 3.
    let scope = Schedule::from_fn(|k| if k < 3 { 1.0 } else { f64::NAN });
    let mut es = EntropySgd::new(scope, 3, 0.1).seed(1);
    for _ in 0..3 {
        assert_eq!(Optimizer::<f64, Quadratic<f64>>::validate(&es), Ok(()));
        es.step(&mut x, &q).unwrap();
    }
    let before = bits(&x);
    let rng_before = es.rng().clone();
    let err = Optimizer::<f64, Quadratic<f64>>::validate(&es).unwrap_err();
    assert_eq!(name::<()>(Err(err.clone())), "scope");
    assert_same_error(es.step(&mut x, &q), &err, "the step");
    assert_eq!(bits(&x), before);
    assert_eq!(es.rng(), &rng_before);
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::steps_taken(&es), 3);
    // A learning-rate schedule that hits 0.
    let mut gd = GradientDescent::new(0.1)
        .learning_rate_schedule(Schedule::from_fn(|k| 0.1 * (1.0 - k as f64)));
    gd.step(&mut x, &q).unwrap();
    let before = bits(&x);
    let err = Optimizer::<f64, Quadratic<f64>>::validate(&gd).unwrap_err();
    assert_eq!(name::<()>(Err(err.clone())), "learning_rate");
    assert_same_error(gd.step(&mut x, &q), &err, "the step");
    assert_eq!(bits(&x), before);
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::steps_taken(&gd), 1);
    // Parle with a coupling schedule that returns a negative value: the replicas stay put too.
    let mut p = Parle::new(2, 1.0, Schedule::from_fn(|k| 1.0 - k as f64), 2, 0.1);
    p.step(&mut x, &q).unwrap();
    let before = bits(&x);
    let replicas: Vec<_> = (0..2).map(|a| bits(p.replica(a).unwrap())).collect();
    let err = Optimizer::<f64, Quadratic<f64>>::validate(&p).unwrap_err();
    assert_eq!(name::<()>(Err(err.clone())), "coupling");
    assert_same_error(p.step(&mut x, &q), &err, "the step");
    assert_eq!(bits(&x), before);
    for (a, r) in replicas.iter().enumerate() {
        assert_eq!(&bits(p.replica(a).unwrap()), r, "replica {a} moved");
    }
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::steps_taken(&p), 1);
    // Trivialized-SGD with more neurons than parameters (1 + 2τ/N would go negative): only the
    // step knows N = x.len(), so validate() cannot see it; the step reports it, x untouched.
    let mut t = TrivializedSgd::new(0.1, 3, 5, 10.0, 0.1);
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::validate(&t), Ok(()));
    let before = bits(&x);
    assert_eq!(name(t.step(&mut x, &q)), "neurons");
    assert_eq!(bits(&x), before);
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::steps_taken(&t), 0);
}
