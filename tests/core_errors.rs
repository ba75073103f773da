//! Every error path of the core: typed errors, never a panic, and after any error the parameters
//! and the scheme's state (counter, generator, SGLD chain) are exactly what they were.

use nalgebra::{dmatrix, dvector, DVector};
use std::sync::atomic::{AtomicUsize, Ordering};
use wide_valleys::kl::{GaussianExpectation, ModeSeekingSolver, RobbinsMonro};
use wide_valleys::objectives::Quadratic;
use wide_valleys::regularized::MonteCarlo;
use wide_valleys::rng::seeded;
use wide_valleys::sampling::{ImportanceSampling, MeanEstimator, Quadrature, Sgld, StepSizes};
use wide_valleys::{
    Batch, Cost, Error, Gradient, HeatRegularization, LocalEntropy, Optimizer, Result, Schedule,
};

fn quad2() -> Quadratic<f64> {
    Quadratic::new(dmatrix![2.0, 0.3; 0.3, 1.0], dvector![0.5, -1.0]).unwrap()
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T>, expected: &str) {
    match r {
        Err(Error::InvalidHyperParameter { name, .. }) => assert_eq!(name, expected),
        other => panic!("expected InvalidHyperParameter({expected}), got {other:?}"),
    }
}

fn assert_non_finite<T: std::fmt::Debug>(r: Result<T>) {
    assert!(
        matches!(r, Err(Error::NonFinite { .. })),
        "expected NonFinite, got {r:?}"
    );
}

fn bits(x: &DVector<f64>) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// A quadratic whose value or gradient turns non-finite after `healthy` evaluations.
struct Flaky {
    inner: Quadratic<f64>,
    calls: AtomicUsize,
    healthy: usize,
    bad: f64,
    in_gradient: bool,
}

impl Flaky {
    fn new(healthy: usize, bad: f64, in_gradient: bool) -> Self {
        Self {
            inner: quad2(),
            calls: AtomicUsize::new(0),
            healthy,
            bad,
            in_gradient,
        }
    }
    fn tick(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst) >= self.healthy
    }
}

impl Cost<f64> for Flaky {
    fn dim(&self) -> usize {
        2
    }
    fn cost(&self, x: &DVector<f64>, b: &Batch) -> f64 {
        if !self.in_gradient && self.tick() {
            return self.bad;
        }
        self.inner.cost(x, b)
    }
}

impl Gradient<f64> for Flaky {
    fn gradient(&self, x: &DVector<f64>, b: &Batch, g: &mut DVector<f64>) {
        self.inner.gradient(x, b, g);
        if self.in_gradient && self.tick() {
            g[1] = self.bad;
        }
    }
}

/// The scheme was built (constructors take values as given), but `validate()` names `expected`
/// and a step on `loss` returns that very error, twice, with x unchanged bit for bit and the
/// counter still at `k`.
#[track_caller]
fn scheme_rejects<S, O>(scheme: &mut S, x: &mut DVector<f64>, loss: &O, expected: &str)
where
    S: Optimizer<f64, O>,
{
    let k = scheme.steps_taken();
    let err = scheme.validate().unwrap_err();
    assert_invalid::<()>(Err(err.clone()), expected);
    let before = bits(x);
    for _ in 0..2 {
        match scheme.step(x, loss) {
            Err(e) if e == err => {}
            other => panic!("step: expected validate()'s {err:?}, got {other:?}"),
        }
        assert_eq!(bits(x), before, "x changed by a failed step");
        assert_eq!(
            scheme.steps_taken(),
            k,
            "the counter moved on a failed step"
        );
    }
}

#[test]
fn invalid_tau_is_named_by_validate_and_by_step_and_x_is_untouched() {
    let loss = quad2();
    for tau in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = dvector![0.3, -0.7];
        // Constructors take τ as given (there is no `try_new` any more).
        let mut le = LocalEntropy::new(tau);
        let mut hr = HeatRegularization::new(tau);
        scheme_rejects(&mut le, &mut x, &loss, "tau");
        scheme_rejects(&mut hr, &mut x, &loss, "tau");
        assert_invalid(le.tau(), "tau");
        assert_eq!(le.k(), 0);
        // The error reports the value given.
        match Optimizer::<f64, Quadratic<f64>>::validate(&hr) {
            Err(Error::InvalidHyperParameter { value, .. }) => {
                assert_eq!(value.to_bits(), tau.to_bits())
            }
            other => panic!("{other:?}"),
        }
    }
    let mut x = dvector![0.3, -0.7];
    for mut scheme in [
        Box::new(LocalEntropy::new(0.1).estimator(ImportanceSampling::new(20)))
            as Box<dyn Optimizer<f64, Quadratic<f64>>>,
        Box::new(HeatRegularization::new(0.1)),
    ] {
        assert_eq!(scheme.validate(), Ok(()));
        scheme.step(&mut x, &loss).unwrap();
        assert_eq!(scheme.steps_taken(), 1);
    }
}

#[test]
fn a_tau_schedule_turning_invalid_mid_run_stops_without_side_effects() {
    let loss = quad2();
    let mut scheme = LocalEntropy::new(0.1)
        .estimator(ImportanceSampling::new(50))
        .tau_schedule(Schedule::from_fn(|k| if k == 0 { 0.1 } else { f64::NAN }));
    let mut x = dvector![0.3, -0.7];
    assert_eq!(Optimizer::<f64, Quadratic<f64>>::validate(&scheme), Ok(()));
    scheme.step(&mut x, &loss).unwrap();
    scheme_rejects(&mut scheme, &mut x, &loss, "tau");
    assert_eq!(scheme.k(), 1);
}

#[test]
fn invalid_eq18_schedules_are_named_by_validate_and_by_step() {
    let loss = quad2();
    // 000 eq. 18 is the geometric schedule τ₀·(1/(1 + τ₁))^k: its parameters are reported
    // under the geometric schedule's names, τ₀ as `initial` and 1/(1 + τ₁) as `factor`.
    for (tau0, tau1, expected) in [
        (-0.1, 0.5, "initial"),
        (0.0, 0.5, "initial"),
        (f64::NAN, 0.5, "initial"),
        (0.1, -1.0, "factor"),
        (0.1, -1.5, "factor"),
        (0.1, f64::NAN, "factor"),
    ] {
        let s = Schedule::eq18(tau0, tau1);
        assert_invalid(s.validate(), expected);
        let mut x = dvector![0.3, -0.7];
        scheme_rejects(
            &mut LocalEntropy::new(0.1).tau_schedule(s.clone()),
            &mut x,
            &loss,
            expected,
        );
        scheme_rejects(
            &mut HeatRegularization::new(0.1).tau_schedule(s),
            &mut x,
            &loss,
            expected,
        );
    }
    // τ₁ ∈ (−1, 0) is the "reverse" schedule of 000 Figure 8: τ grows, and that is valid.
    for (tau0, tau1) in [(0.1, 0.5), (0.1, -0.5), (0.1, 0.0)] {
        let s = Schedule::eq18(tau0, tau1);
        assert_eq!(s.validate(), Ok(()));
        let mut scheme = LocalEntropy::new(1.0)
            .estimator(ImportanceSampling::new(20))
            .tau_schedule(s);
        scheme.step(&mut dvector![0.3, -0.7], &loss).unwrap();
    }
}

#[test]
fn zero_samples_and_iterations_are_rejected() {
    let loss = quad2();
    let x = dvector![0.1, 0.2];
    let mut m = DVector::zeros(2);
    let mut rng = seeded(0);
    assert_invalid(
        Sgld::paper()
            .samples(0)
            .estimate(&x, 0.1, &loss, &mut rng, &mut m),
        "samples",
    );
    assert_invalid(
        ImportanceSampling::new(0).estimate(&x, 0.1, &loss, &mut rng, &mut m),
        "samples",
    );
    assert_invalid(
        ImportanceSampling::new(10)
            .chunks(0)
            .estimate(&x, 0.1, &loss, &mut rng, &mut m),
        "chunks",
    );
    assert_invalid(
        RobbinsMonro::paper()
            .samples(0)
            .minimize(&x, 0.1, &loss, &mut rng, &mut m),
        "samples",
    );
    assert_invalid(
        RobbinsMonro::paper()
            .iterations(0)
            .minimize(&x, 0.1, &loss, &mut rng, &mut m),
        "iterations",
    );
    assert_invalid(MonteCarlo::new(0).heat(&x, 0.1, &loss, &mut rng), "samples");
    assert_invalid(
        MonteCarlo::new(0).local_entropy(&x, 0.1, &loss, &mut rng),
        "samples",
    );
    assert_invalid(Quadrature::new(2, 10.0).heat(&x, 0.1, &loss), "nodes");
    assert_invalid(Quadrature::new(11, 0.0).heat(&x, 0.1, &loss), "half_width");
    // The estimators' own validation says the same, without a loss.
    assert_invalid(
        MeanEstimator::<f64, Quadratic<f64>>::validate(&Sgld::paper().samples(0)),
        "samples",
    );
    assert_invalid(
        MeanEstimator::<f64, Quadratic<f64>>::validate(&ImportanceSampling::new(0)),
        "samples",
    );
    assert_invalid(
        MeanEstimator::<f64, Quadratic<f64>>::validate(&Quadrature::new(2, 10.0)),
        "nodes",
    );
    // The same through a scheme: validate() names it, the step returns it, x untouched.
    let mut xs = dvector![0.1, 0.2];
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(Sgld::paper().samples(0)),
        &mut xs,
        &loss,
        "samples",
    );
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(ImportanceSampling::new(0)),
        &mut xs,
        &loss,
        "samples",
    );
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(ImportanceSampling::new(10).chunks(0)),
        &mut xs,
        &loss,
        "chunks",
    );
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(Quadrature::new(2, 10.0)),
        &mut xs,
        &loss,
        "nodes",
    );
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(Quadrature::new(11, 0.0)),
        &mut xs,
        &loss,
        "half_width",
    );
    scheme_rejects(
        &mut HeatRegularization::new(0.1).solver(RobbinsMonro::paper().iterations(0)),
        &mut xs,
        &loss,
        "iterations",
    );
    scheme_rejects(
        &mut HeatRegularization::new(0.1).solver(RobbinsMonro::paper().samples(0)),
        &mut xs,
        &loss,
        "samples",
    );
}

#[test]
fn robbins_monro_alpha_must_lie_in_half_open_interval_and_c_positive() {
    let loss = quad2();
    let x = dvector![0.1, 0.2];
    let mut m = DVector::zeros(2);
    let mut rng = seeded(0);
    for alpha in [0.5, 0.3, 0.0, -0.7, 1.0001, 2.0, f64::NAN, f64::INFINITY] {
        assert_invalid(
            RobbinsMonro::paper()
                .alpha(alpha)
                .minimize(&x, 0.1, &loss, &mut rng, &mut m),
            "alpha",
        );
    }
    for alpha in [0.5001, 0.7, 1.0] {
        RobbinsMonro::paper()
            .alpha(alpha)
            .minimize(&x, 0.1, &loss, &mut rng, &mut m)
            .unwrap();
    }
    for c in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert_invalid(
            RobbinsMonro::paper()
                .c(c)
                .minimize(&x, 0.1, &loss, &mut rng, &mut m),
            "c",
        );
    }
    // Through the scheme: validate() names them, the step returns the same error.
    let mut xs = dvector![0.1, 0.2];
    for alpha in [0.5, 1.0001, f64::NAN] {
        scheme_rejects(
            &mut HeatRegularization::new(0.1).solver(RobbinsMonro::paper().alpha(alpha)),
            &mut xs,
            &loss,
            "alpha",
        );
    }
    scheme_rejects(
        &mut HeatRegularization::new(0.1).solver(RobbinsMonro::paper().c(-0.1)),
        &mut xs,
        &loss,
        "c",
    );
}

#[test]
fn sgld_temperature_and_step_sizes_are_validated() {
    let loss = quad2();
    let x = dvector![0.1, 0.2];
    let mut m = DVector::zeros(2);
    let mut rng = seeded(0);
    assert_invalid(
        Sgld::paper()
            .temperature(-1.0)
            .estimate(&x, 0.1, &loss, &mut rng, &mut m),
        "temperature",
    );
    assert_invalid(
        Sgld::paper()
            .constant_step(0.0)
            .estimate(&x, 0.1, &loss, &mut rng, &mut m),
        "step_size",
    );
    let mut xs = dvector![0.1, 0.2];
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(Sgld::paper().temperature(-1.0)),
        &mut xs,
        &loss,
        "temperature",
    );
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(Sgld::paper().constant_step(f64::NAN)),
        &mut xs,
        &loss,
        "step_size",
    );
    // ε_j = 1/(offset + j) ≤ 0 or ∞ at j = 1.
    scheme_rejects(
        &mut LocalEntropy::new(0.1).estimator(Sgld::paper().harmonic(-1.0)),
        &mut xs,
        &loss,
        "step_size",
    );
    // A custom step-size schedule is checked value by value as the chain reads it: validate()
    // sees ε_1 only, the estimate stops at the first bad ε_j and commits no chain.
    let bad_later = StepSizes::Schedule(Schedule::from_fn(|j| if j < 5 { 0.01 } else { -1.0 }));
    let mut sgld = Sgld::paper().step_sizes(bad_later);
    assert_eq!(
        MeanEstimator::<f64, Quadratic<f64>>::validate(&sgld),
        Ok(())
    );
    assert_invalid(sgld.estimate(&x, 0.1, &loss, &mut rng, &mut m), "step_size");
    assert!(sgld.chain().is_none(), "no chain committed on error");
}

#[test]
fn dimension_mismatch_is_reported_for_every_scheme_and_estimator() {
    let loss = quad2();
    let mut x = dvector![0.1, 0.2, 0.3];
    let before = bits(&x);
    let dm = |r: Result<_>| {
        assert!(
            matches!(
                r,
                Err(Error::DimensionMismatch {
                    expected: 2,
                    got: 3
                })
            ),
            "{r:?}"
        )
    };
    dm(LocalEntropy::new(0.1).step(&mut x, &loss).map(|_| ()));
    dm(HeatRegularization::new(0.1).step(&mut x, &loss).map(|_| ()));
    dm(LocalEntropy::new(0.1)
        .estimator(ImportanceSampling::new(10))
        .step(&mut x, &loss)
        .map(|_| ()));
    dm(LocalEntropy::new(0.1)
        .estimator(Quadrature::default())
        .step(&mut x, &loss)
        .map(|_| ()));
    let mut m = DVector::zeros(3);
    dm(ImportanceSampling::new(10)
        .estimate(&x, 0.1, &loss, &mut seeded(0), &mut m)
        .map(|_| ()));
    dm(MonteCarlo::new(10)
        .heat(&x, 0.1, &loss, &mut seeded(0))
        .map(|_| ()));
    dm(Quadrature::default()
        .local_entropy(&x, 0.1, &loss)
        .map(|_| ()));
    assert_eq!(bits(&x), before);
}

#[test]
fn quadrature_rejects_dimension_above_two() {
    let q3 = Quadratic::new(
        nalgebra::DMatrix::identity(3, 3),
        DVector::from_element(3, 0.0),
    )
    .unwrap();
    let x = DVector::from_element(3, 0.0);
    assert_invalid(Quadrature::default().heat(&x, 0.1, &q3), "dimension");
    let mut x2 = x.clone();
    assert_invalid(
        LocalEntropy::new(0.1)
            .estimator(Quadrature::default())
            .step(&mut x2, &q3),
        "dimension",
    );
    assert_eq!(bits(&x2), bits(&x));
}

#[test]
fn non_finite_parameters_are_rejected() {
    let loss = quad2();
    let mut x = dvector![f64::NAN, 0.0];
    let before = bits(&x);
    assert_non_finite(LocalEntropy::new(0.1).step(&mut x, &loss));
    assert_non_finite(HeatRegularization::new(0.1).step(&mut x, &loss));
    assert_eq!(bits(&x), before);
}

/// Runs healthy, failing, healthy steps on scheme A and healthy, healthy on an identical scheme
/// B: equal results prove the failed step left x, k, the generator and the estimator state
/// (e.g. the SGLD chain) exactly as they were.
fn failure_leaves_no_trace<K>(
    make: impl Fn() -> wide_valleys::schemes::TwoStep<f64, K>,
    flaky: &Flaky,
) where
    wide_valleys::schemes::TwoStep<f64, K>:
        wide_valleys::Optimizer<f64, Quadratic<f64>> + wide_valleys::Optimizer<f64, Flaky>,
{
    let loss = quad2();
    let (mut a, mut b) = (make(), make());
    let (mut xa, mut xb) = (dvector![0.8, -0.4], dvector![0.8, -0.4]);
    Optimizer::step(&mut a, &mut xa, &loss).unwrap();
    Optimizer::step(&mut b, &mut xb, &loss).unwrap();
    let before = bits(&xa);
    assert_non_finite(Optimizer::step(&mut a, &mut xa, flaky));
    assert_eq!(bits(&xa), before, "x unchanged after the error");
    assert_eq!(a.k(), 1);
    Optimizer::step(&mut a, &mut xa, &loss).unwrap();
    Optimizer::step(&mut b, &mut xb, &loss).unwrap();
    assert_eq!(bits(&xa), bits(&xb), "state unchanged after the error");
}

#[test]
fn non_finite_gradient_mid_sgld_step_leaves_x_and_chain_untouched() {
    for bad in [f64::NAN, f64::INFINITY] {
        failure_leaves_no_trace(
            || {
                LocalEntropy::new(0.1)
                    .seed(5)
                    .estimator(Sgld::paper().samples(100))
            },
            &Flaky::new(37, bad, true),
        );
    }
}

#[test]
fn non_finite_loss_mid_importance_sampling_step_leaves_x_untouched() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        failure_leaves_no_trace(
            || {
                LocalEntropy::new(0.1)
                    .seed(5)
                    .estimator(ImportanceSampling::new(200))
            },
            &Flaky::new(77, bad, false),
        );
    }
}

#[test]
fn non_finite_gradient_mid_robbins_monro_step_leaves_x_untouched() {
    for bad in [f64::NAN, f64::INFINITY] {
        failure_leaves_no_trace(
            || HeatRegularization::new(0.1).seed(5),
            &Flaky::new(200, bad, true),
        );
        failure_leaves_no_trace(
            || {
                HeatRegularization::new(0.1).seed(5).solver(
                    RobbinsMonro::paper()
                        .expectation(GaussianExpectation::Quadrature(Quadrature::new(21, 8.0))),
                )
            },
            &Flaky::new(1000, bad, true),
        );
    }
}

#[test]
fn non_finite_loss_in_quadrature_and_monte_carlo_is_reported() {
    let x = dvector![0.1, 0.2];
    assert_non_finite(Quadrature::new(21, 8.0).local_entropy(
        &x,
        0.1,
        &Flaky::new(5, f64::NAN, false),
    ));
    assert_non_finite(Quadrature::new(21, 8.0).heat(&x, 0.1, &Flaky::new(5, f64::INFINITY, false)));
    assert_non_finite(MonteCarlo::new(100).heat(
        &x,
        0.1,
        &Flaky::new(5, f64::NAN, false),
        &mut seeded(0),
    ));
    assert_non_finite(MonteCarlo::new(100).local_entropy(
        &x,
        0.1,
        &Flaky::new(5, f64::NEG_INFINITY, false),
        &mut seeded(0),
    ));
    failure_leaves_no_trace(
        || LocalEntropy::new(0.1).estimator(Quadrature::new(21, 8.0)),
        &Flaky::new(100, f64::NAN, false),
    );
}

#[test]
fn errors_display_their_context() {
    let e = LocalEntropy::new(-1.0)
        .step(&mut dvector![0.0, 0.0], &quad2())
        .unwrap_err();
    assert!(e.to_string().contains("tau"));
}
