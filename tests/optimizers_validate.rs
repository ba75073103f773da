//! `Optimizer::validate`: constructors and setters take values as given; `validate()` names the
//! first invalid hyper-parameter before any step, with exactly the error the step would return,
//! and accepts every valid configuration.

use nalgebra::{dmatrix, dvector};
use wide_valleys::objectives::Quadratic;
use wide_valleys::{
    Error, HeatRegularization, ImportanceSampling, LocalEntropy, Optimizer, Parle, RobbinsMonro,
    Schedule, Sgld,
};

fn quadratic() -> Quadratic<f64> {
    Quadratic::new(dmatrix![2.0, 0.0; 0.0, 1.0], dvector![1.0, -1.0]).unwrap()
}

/// `validate` fails on `name`, and the first step fails with the same error, leaving x alone.
fn refused<O: Optimizer<f64, Quadratic<f64>>>(what: &str, mut opt: O, name: &str) {
    let e = opt.validate().expect_err(what);
    match &e {
        Error::InvalidHyperParameter { name: n, .. } => assert_eq!(*n, name, "{what}: {e}"),
        other => panic!("{what}: expected InvalidHyperParameter, got {other:?}"),
    }
    let mut x = dvector![0.5, 0.5];
    let step = opt.step(&mut x, &quadratic()).expect_err(what);
    assert_eq!(step, e, "{what}: validate and step disagree");
    assert_eq!(x, dvector![0.5, 0.5]);
}

#[test]
fn validate_names_the_invalid_hyper_parameter_before_any_step() {
    refused("τ < 0", LocalEntropy::new(-1.0), "tau");
    refused(
        "SGLD without samples",
        LocalEntropy::new(0.1).estimator(Sgld::paper().samples(0)),
        "samples",
    );
    refused(
        "IS without samples",
        LocalEntropy::new(0.1).estimator(ImportanceSampling::new(0)),
        "samples",
    );
    refused(
        "Robbins–Monro α ≤ 1/2",
        HeatRegularization::new(0.1).solver(RobbinsMonro::paper().alpha(0.3)),
        "alpha",
    );
    refused(
        "η scheduled negative",
        wide_valleys::EntropySgd::new(0.5, 5, 0.1).learning_rate_schedule(Schedule::Constant(-0.1)),
        "learning_rate",
    );
    refused(
        "Parle η scheduled 0",
        Parle::new(2, 0.5, 1.0, 3, 0.1).learning_rate_schedule(Schedule::Constant(0.0)),
        "learning_rate",
    );
}

#[test]
fn validate_accepts_the_defaults_of_every_front_door() {
    let q = quadratic();
    let ok = |what: &str, r: wide_valleys::Result<()>| r.unwrap_or_else(|e| panic!("{what}: {e}"));
    ok(
        "LocalEntropy",
        Optimizer::<f64, Quadratic<f64>>::validate(&LocalEntropy::new(0.1)),
    );
    ok(
        "HeatRegularization",
        Optimizer::<f64, Quadratic<f64>>::validate(&HeatRegularization::new(0.1)),
    );
    ok(
        "Entropy-SGD",
        Optimizer::<f64, Quadratic<f64>>::validate(&wide_valleys::EntropySgd::new(0.5, 5, 0.1)),
    );
    ok(
        "Parle",
        Optimizer::<f64, Quadratic<f64>>::validate(&Parle::new(2, 0.5, 1.0, 3, 0.1)),
    );
    let mut x = dvector![0.5, 0.5];
    LocalEntropy::new(0.1).step(&mut x, &q).unwrap();
}

#[test]
fn a_loaded_state_with_no_langevin_steps_is_refused_not_run_forever() {
    // A checkpoint need not come through the constructors: L = 0 must be an error (it once
    // made the sliced inner loop wait for a last step that never comes).
    let opt = wide_valleys::EntropySgd::new(0.5, 5, 0.1).seed(1);
    let json = serde_json::to_string(&opt).unwrap();
    assert!(json.contains("\"langevin_steps\":5"), "{json}");
    let hostile = json.replace("\"langevin_steps\":5", "\"langevin_steps\":0");
    let mut opt: wide_valleys::SmoothedOptimizer<f64, wide_valleys::LocalEntropyGradient<f64>> =
        serde_json::from_str(&hostile).unwrap();
    let v = Optimizer::<f64, Quadratic<f64>>::validate(&opt).expect_err("validate");
    assert!(
        matches!(
            v,
            Error::InvalidHyperParameter {
                name: "langevin_steps",
                ..
            }
        ),
        "{v}"
    );
    let mut x = dvector![0.5, 0.5];
    let e = opt.step(&mut x, &quadratic()).expect_err("step");
    assert_eq!(e, v);
    assert_eq!(x, dvector![0.5, 0.5]);
    // The same inside Parle's replicas.
    let p = Parle::new(2, 0.5, 1.0, 3, 0.1);
    let json = serde_json::to_string(&p)
        .unwrap()
        .replace("\"langevin_steps\":3", "\"langevin_steps\":0");
    let mut p: Parle<f64> = serde_json::from_str(&json).unwrap();
    assert!(p.step(&mut x, &quadratic()).is_err());
}
