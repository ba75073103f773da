//! A common battery run over every optimizer, the two-step schemes of 000 included (in the spirit
//! of optax's shared tests):
//! convergence on a strongly convex quadratic in dimension 10, determinism under a seed, typed
//! errors on dimension mismatch, and exact rollback after a loss returns NaN mid-step.

#[path = "optimizers_common.rs"]
mod common;

use common::{quadratic, start, Flaky};
use nalgebra::DVector;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::*;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::{ImportanceSampling, Sgld};
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum};
use wide_valleys::Optimizer;
use wide_valleys::{Error, HeatRegularization, LocalEntropy, Schedule};

const D: usize = 10;

/// Runs `steps` steps from a fixed start and returns the final iterate.
fn run<Op: Optimizer<f64, Quadratic<f64>>>(
    opt: &mut Op,
    q: &Quadratic<f64>,
    steps: usize,
) -> DVector<f64> {
    let mut x = start(D, 11);
    for _ in 0..steps {
        opt.step(&mut x, q).unwrap();
    }
    x
}

/// Every check of the battery for one optimizer; `make(seed)` builds it.
fn battery<Op>(name: &str, make: impl Fn(u64) -> Op, steps: usize, tol: f64)
where
    Op: Optimizer<f64, Quadratic<f64>>
        + Optimizer<f64, Flaky<Quadratic<f64>>>
        + Clone
        + Serialize
        + DeserializeOwned,
{
    battery_without_checkpoint(name, &make, steps, tol);
    // 5. A JSON checkpoint (serde) restores the state: the restored run continues bit for bit.
    let q = quadratic(D, 5);
    let mut opt = make(4);
    let mut x = start(D, 13);
    for _ in 0..4 {
        Optimizer::<f64, Quadratic<f64>>::step(&mut opt, &mut x, &q).unwrap();
    }
    let json = serde_json::to_string(&opt).unwrap();
    let mut restored: Op = serde_json::from_str(&json).unwrap();
    let mut xr = x.clone();
    for _ in 0..4 {
        Optimizer::<f64, Quadratic<f64>>::step(&mut opt, &mut x, &q).unwrap();
        Optimizer::<f64, Quadratic<f64>>::step(&mut restored, &mut xr, &q).unwrap();
    }
    // serde_json without its `float_roundtrip` feature may change the last bit of a float.
    let rel = (&x - &xr).norm() / x.norm();
    assert!(
        rel < 1e-13,
        "{name}: restored checkpoint diverges ({rel:e})"
    );
}

/// Checks 1–4 (for optimizers whose state serde_json cannot round-trip: it writes ±∞ as null).
fn battery_without_checkpoint<Op>(name: &str, make: impl Fn(u64) -> Op, steps: usize, tol: f64)
where
    Op: Optimizer<f64, Quadratic<f64>> + Optimizer<f64, Flaky<Quadratic<f64>>> + Clone + Serialize,
{
    let q = quadratic(D, 5);
    let m = q.minimizer();

    // 1. Convergence to the minimizer (local entropy / heat / Hopf–Lax / elastic coupling do not
    //    move the minimizer of a convex quadratic: 004 §4.4, DESIGN.md closed forms).
    let x = run(&mut make(1), &q, steps);
    let err = (&x - &m).norm();
    assert!(err < tol, "{name}: |x - x*| = {err:e} >= {tol:e}");

    // 2. Same seed => same iterates, bit for bit.
    let x2 = run(&mut make(1), &q, 25);
    let x3 = run(&mut make(1), &q, 25);
    assert_eq!(x2, x3, "{name}: not reproducible under a seed");

    // 3. Dimension mismatch is a typed error and leaves x alone.
    let mut opt = make(1);
    let mut short = DVector::from_element(D - 1, 0.5);
    let before = short.clone();
    match Optimizer::<f64, Quadratic<f64>>::step(&mut opt, &mut short, &q) {
        Err(Error::DimensionMismatch { expected, got }) => assert_eq!((expected, got), (D, D - 1)),
        other => panic!("{name}: expected DimensionMismatch, got {other:?}"),
    }
    assert_eq!(short, before);

    // 4. NaN mid-step: typed error, x and the whole state (rule, generator, counter, replicas)
    //    exactly as before; afterwards the run continues exactly as if the step never happened.
    let mut opt = make(3);
    let mut x = start(D, 12);
    let mut evals = 0;
    for _ in 0..3 {
        let r = Optimizer::<f64, Quadratic<f64>>::step(&mut opt, &mut x, &q).unwrap();
        evals = r.gradient_evaluations + r.cost_evaluations;
    }
    let snapshot = serde_json::to_string(&opt).unwrap();
    let reference = opt.clone();
    let x_before = x.clone();
    // Fail on the last call of the step (after the inner loop did its work): the counted
    // evaluations are exactly the calls the loss saw.
    let flaky = Flaky::new(q.clone(), evals - 1, evals);
    match opt.step(&mut x, &flaky) {
        Err(Error::NonFinite { .. }) => {}
        other => panic!("{name}: expected NonFinite, got {other:?}"),
    }
    assert_eq!(
        flaky.calls(),
        evals,
        "{name}: the failing call was not reached"
    );
    assert_eq!(x, x_before, "{name}: x changed by a failed step");
    assert_eq!(
        serde_json::to_string(&opt).unwrap(),
        snapshot,
        "{name}: state changed by a failed step"
    );
    let mut reference = reference;
    let mut x_ref = x_before.clone();
    for _ in 0..3 {
        Optimizer::<f64, Quadratic<f64>>::step(&mut opt, &mut x, &q).unwrap();
        Optimizer::<f64, Quadratic<f64>>::step(&mut reference, &mut x_ref, &q).unwrap();
    }
    assert_eq!(x, x_ref, "{name}: the run after a failed step differs");
    assert_eq!(
        Optimizer::<f64, Quadratic<f64>>::steps_taken(&opt),
        6,
        "{name}: counter"
    );
}

#[test]
fn gradient_descent() {
    battery("GD", |s| GradientDescent::new(0.2).seed(s), 300, 1e-8);
}

#[test]
fn gradient_descent_nesterov() {
    battery(
        "GD+Nesterov",
        |s| {
            GradientDescent::new(0.05)
                .with_rule(Momentum::nesterov(0.9))
                .seed(s)
        },
        400,
        1e-8,
    );
}

#[test]
fn entropy_sgd() {
    battery(
        "Entropy-SGD",
        |s| {
            EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    0.5,
                    ExponentialSgld::new(20)
                        .langevin_step(0.05)
                        .thermal_noise(1e-8),
                ),
                0.5,
            )
            .seed(s)
        },
        400,
        1e-3,
    );
}

#[test]
fn entropy_sgd_with_data_term_and_momentum() {
    battery(
        "Entropy-SGD (rho = 0.1, classical momentum)",
        |s| {
            SmoothedOptimizer::with_oracle(
                DataTerm::new(
                    LocalEntropyGradient::with_estimator(
                        0.5,
                        ExponentialSgld::new(10).langevin_step(0.05),
                    ),
                    0.1,
                ),
                0.1,
            )
            .with_rule(Momentum::classical(0.8))
            .seed(s)
        },
        500,
        1e-3,
    );
}

#[test]
fn entropy_sgd_scaled_scoping() {
    // 003 §3.2.3: scaled gradient x − μ, η = 1 ⇒ x ← μ, with γ scoped down.
    battery(
        "Entropy-SGD (scaled, scoped)",
        |s| {
            EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    Schedule::geometric(2.0, 0.99).clipped(0.2, 2.0),
                    ExponentialSgld::new(20).langevin_step(0.05),
                )
                .scaled(true),
                1.0,
            )
            .seed(s)
        },
        400,
        1e-3,
    );
}

#[test]
fn entropy_adam() {
    battery(
        "Entropy-Adam",
        |s| {
            EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    0.5,
                    ExponentialSgld::new(10).langevin_step(0.05),
                ),
                0.05,
            )
            .with_rule(Adam::standard())
            .learning_rate_schedule(Schedule::geometric(0.05, 0.99).clipped(1e-4, 1.0))
            .seed(s)
        },
        800,
        1e-2,
    );
}

#[test]
fn hamilton_jacobi() {
    battery(
        "HJ",
        |s| {
            HamiltonJacobi::with_oracle(HopfLaxGradient::new(0.5, 10).inner_step(0.05), 0.5).seed(s)
        },
        300,
        1e-6,
    );
}

#[test]
fn heat() {
    battery(
        "HEAT",
        |s| {
            Heat::new(0.01, 20, 0.1)
                .learning_rate_schedule(Schedule::geometric(0.1, 0.99).clipped(1e-3, 1.0))
                .seed(s)
        },
        800,
        2e-2,
    );
}

#[test]
fn sam() {
    battery("SAM", |s| Sam::new(1e-4, 0.1).seed(s), 400, 1e-3);
}

#[test]
fn trivialized_sgd() {
    // n = N: the field (1 + 2τ_i/N)^{1/2} h → 0, so the minimizer is reached (003 eq. 2.20).
    battery(
        "Trivialized-SGD",
        |s| TrivializedSgd::new(0.1, 3, D, 20.0, 0.1).seed(s),
        800,
        1e-4,
    );
}

#[test]
fn parle() {
    battery(
        "Parle",
        |s| {
            Parle::with_oracle(
                3,
                LocalEntropyGradient::with_estimator(
                    0.5,
                    ExponentialSgld::new(10)
                        .langevin_step(0.05)
                        .thermal_noise(0.0),
                )
                .scaled(true),
                1.0,
                0.5,
            )
            .seed(s)
        },
        300,
        1e-3,
    );
}

#[test]
fn elastic_sgd() {
    // Parle over the plain gradient: no γ, so the JSON round trip applies too.
    battery(
        "Elastic-SGD",
        |s| ElasticSgd::elastic(3, 1.0, 0.1).seed(s),
        600,
        1e-6,
    );
}

#[test]
fn generic_over_f32() {
    // The same optimizers in single precision.
    let q64 = quadratic(D, 5);
    let q = Quadratic::<f32>::new(
        q64.hessian().map(|v| v as f32),
        (q64.hessian() * q64.minimizer()).map(|v| -v as f32),
    )
    .unwrap();
    let m = q.minimizer();
    let mut x = DVector::<f32>::from_element(D, 1.0);
    let mut es = EntropySgd::with_oracle(
        LocalEntropyGradient::with_estimator(0.5f32, ExponentialSgld::new(10).langevin_step(0.05)),
        0.5,
    )
    .seed(2);
    let mut xp = x.clone();
    let mut pa = Parle::with_oracle(
        2,
        LocalEntropyGradient::with_estimator(
            0.5f32,
            ExponentialSgld::new(5)
                .langevin_step(0.05)
                .thermal_noise(0.0),
        )
        .scaled(true),
        1.0,
        0.5,
    )
    .seed(2);
    for _ in 0..300 {
        es.step(&mut x, &q).unwrap();
        pa.step(&mut xp, &q).unwrap();
    }
    assert!(
        (&x - &m).norm() < 1e-2,
        "f32 Entropy-SGD: {}",
        (&x - &m).norm()
    );
    assert!((&xp - &m).norm() < 1e-2, "f32 Parle: {}", (&xp - &m).norm());
}

#[test]
fn local_entropy_sgld() {
    // 000 Alg. 1 with SGLD (Alg. 3), noiseless (temperature 0): the chain is gradient descent on
    // f(y) + |y − x|²/(2τ), so each outer step is a proximal-like step towards the minimizer.
    battery(
        "LocalEntropy (SGLD, temperature 0)",
        |s| {
            LocalEntropy::new(0.5)
                .estimator(
                    Sgld::paper()
                        .samples(40)
                        .constant_step(0.05)
                        .temperature(0.0),
                )
                .seed(s)
        },
        300,
        1e-6,
    );
}

#[test]
fn local_entropy_sgld_at_temperature_one() {
    // The same at the paper's temperature: each E_q[Y] is estimated from a noisy chain, and the
    // iterates settle in a cloud around the minimizer (spread ≈ 0.2 here) instead of on it.
    battery(
        "LocalEntropy (SGLD)",
        |s| {
            LocalEntropy::new(0.05)
                .estimator(Sgld::paper().samples(1000).constant_step(0.01))
                .seed(s)
        },
        200,
        0.4,
    );
}

#[test]
fn local_entropy_importance_sampling() {
    // 000 Alg. 4: gradient-free, the loss's values only.
    battery(
        "LocalEntropy (IS)",
        |s| {
            LocalEntropy::new(0.05)
                .estimator(ImportanceSampling::new(2000))
                .seed(s)
        },
        200,
        0.15,
    );
}

#[test]
fn heat_regularization_robbins_monro() {
    // 000 Alg. 2 with Robbins–Monro (Alg. 5, eq. 17): on a quadratic F^H_τ = f + τ tr(A)/2 has
    // the same minimizer.
    battery(
        "HeatRegularization (RM)",
        |s| HeatRegularization::new(0.05).seed(s),
        200,
        0.15,
    );
}
