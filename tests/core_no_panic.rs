//! No panic from any public entry point on any input: every estimator, KL step, mode-seeking
//! solver, gradient oracle, regularized-loss estimator, update rule and optimizer checks the
//! length of x against the loss's `dim()` and the length of every buffer passed alongside x
//! before it calls the loss, and answers a typed error. After the error x, the buffers, the
//! generator and the estimator's or rule's state are exactly as before, and the loss was never
//! called.
//!
//! The loss here ([`Strict`]) panics if it is called with a vector of the wrong length, so a
//! missing check shows up as a panic (caught and reported with the entry point's name).

use nalgebra::DVector;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use wide_valleys::kl::{
    GaussianExpectation, KlStep, MeanSeeking, ModeSeeking, ModeSeekingSolver, RobbinsMonro,
};
use wide_valleys::optim::{
    ElasticSgd, EntropySgd, GradientDescent, HamiltonJacobi, Heat, Parle, Sam, TrivializedSgd,
};
use wide_valleys::regularized::{heat_quadrature, local_entropy_quadrature, MonteCarlo};
use wide_valleys::sampling::{ImportanceSampling, MeanEstimator, Quadrature, Sgld};
use wide_valleys::smoothing::{
    DataTerm, GradientOracle, HeatGradient, HopfLaxGradient, LocalEntropyGradient, PlainGradient,
    SamGradient, TrivializedGradient,
};
use wide_valleys::update::{Adam, Momentum, Sgd, UpdateRule, WeightDecay};
use wide_valleys::{
    rng, Batch, Cost, Error, Gradient, HeatRegularization, LocalEntropy, Optimizer, Prng, Result,
};

/// ½|x|² in dimension `dim`; panics if called with an x or a gradient buffer of another length.
struct Strict {
    dim: usize,
    calls: AtomicUsize,
}

impl Strict {
    fn new(dim: usize) -> Self {
        Self {
            dim,
            calls: AtomicUsize::new(0),
        }
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Cost<f64> for Strict {
    fn dim(&self) -> usize {
        self.dim
    }
    fn cost(&self, x: &DVector<f64>, _: &Batch) -> f64 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            x.len(),
            self.dim,
            "the loss was called with a wrong-length x"
        );
        0.5 * x.norm_squared()
    }
}

impl Gradient<f64> for Strict {
    fn gradient(&self, x: &DVector<f64>, _: &Batch, g: &mut DVector<f64>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            x.len(),
            self.dim,
            "the gradient was called with a wrong-length x"
        );
        assert_eq!(
            g.len(),
            self.dim,
            "the gradient was called with a wrong-length buffer"
        );
        g.copy_from(x);
    }
}

const D: usize = 2;

fn bits(v: &DVector<f64>) -> Vec<u64> {
    v.iter().map(|a| a.to_bits()).collect()
}

fn point(n: usize) -> DVector<f64> {
    DVector::from_fn(n, |i, _| 0.25 + 0.5 * i as f64)
}

/// Runs `f`, turning a panic into a test failure that names `case`.
fn no_panic<R>(case: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{case}: panicked instead of returning an error: {msg}")
        }
    }
}

/// An entry point that takes x, a loss, a generator and an output buffer.
type Call<'a> = dyn FnMut(&DVector<f64>, &Strict, &mut Prng, &mut DVector<f64>) -> Result<()> + 'a;

/// The four wrong shapes, each of which must give `expected_error` with nothing touched:
/// x of the wrong length, the loss's dim() ≠ x's length, the output buffer too short and too
/// long.
fn rejects_every_wrong_length(name: &str, call: &mut Call<'_>) {
    // (x length, loss dim, output length, expected error)
    let cases = [
        ("x too long", D + 1, D, D + 1, dm(D, D + 1)),
        ("x too short", D - 1, D, D - 1, dm(D, D - 1)),
        ("loss dim ≠ x length", D, D + 1, D, dm(D + 1, D)),
        ("output buffer too short", D, D, D - 1, bl(D, D - 1)),
        ("output buffer too long", D, D, D + 3, bl(D, D + 3)),
    ];
    for (what, nx, dim, nout, expected) in cases {
        let case = format!("{name}, {what}");
        let x = point(nx);
        let loss = Strict::new(dim);
        let mut out = DVector::from_element(nout, 7.0);
        let mut r = rng::seeded(3);
        let (x0, out0, r0) = (bits(&x), bits(&out), r.clone());
        let got = no_panic(&case, || call(&x, &loss, &mut r, &mut out));
        match (&got, &expected) {
            (
                Err(Error::DimensionMismatch {
                    expected: a,
                    got: b,
                }),
                Expect::Dim(ea, eb),
            ) => {
                assert_eq!((*a, *b), (*ea, *eb), "{case}: {got:?}")
            }
            (
                Err(Error::BufferLength {
                    expected: a,
                    got: b,
                    ..
                }),
                Expect::Buffer(ea, eb),
            ) => assert_eq!((*a, *b), (*ea, *eb), "{case}: {got:?}"),
            _ => panic!("{case}: expected {expected:?}, got {got:?}"),
        }
        assert_eq!(loss.calls(), 0, "{case}: the loss was called");
        assert_eq!(bits(&x), x0, "{case}: x changed");
        assert_eq!(bits(&out), out0, "{case}: the output buffer was written");
        assert_eq!(r, r0, "{case}: the generator advanced");
        // The message says which length was wrong.
        let msg = got.unwrap_err().to_string();
        assert!(msg.contains("length"), "{case}: {msg}");
    }
    // And the right shapes work (so the checks are not simply refusing everything).
    let (x, loss) = (point(D), Strict::new(D));
    let mut out = DVector::zeros(D);
    let ok = no_panic(name, || call(&x, &loss, &mut rng::seeded(3), &mut out));
    assert!(ok.is_ok(), "{name}: the right lengths fail: {ok:?}");
}

#[derive(Debug)]
enum Expect {
    Dim(usize, usize),
    Buffer(usize, usize),
}

fn dm(expected: usize, got: usize) -> Expect {
    Expect::Dim(expected, got)
}

fn bl(expected: usize, got: usize) -> Expect {
    Expect::Buffer(expected, got)
}

fn sgld() -> Sgld<f64> {
    Sgld::paper().samples(20)
}

fn robbins_monro() -> RobbinsMonro<f64> {
    RobbinsMonro::paper().samples(3).iterations(4)
}

fn rm_quadrature() -> RobbinsMonro<f64> {
    robbins_monro().expectation(GaussianExpectation::Quadrature(Quadrature::new(21, 6.0)))
}

#[test]
fn estimators_check_x_the_loss_and_the_mean_buffer() {
    let mut s = sgld();
    rejects_every_wrong_length("Sgld::estimate", &mut |x, l, r, o| {
        s.estimate(x, 0.5, l, r, o).map(drop)
    });
    // A failed call leaves the warm-start chain alone: only the successful one above set it.
    assert_eq!(s.chain().map(|c| c.len()), Some(D));
    let mut is = ImportanceSampling::new(40);
    rejects_every_wrong_length("ImportanceSampling::estimate", &mut |x, l, r, o| {
        is.estimate(x, 0.5, l, r, o).map(drop)
    });
    let mut isp = ImportanceSampling::new(40).projected(true).chunks(3);
    rejects_every_wrong_length("ImportanceSampling::projected(true)", &mut |x, l, r, o| {
        isp.estimate(x, 0.5, l, r, o).map(drop)
    });
    let mut q = Quadrature::new(21, 6.0);
    rejects_every_wrong_length("Quadrature::estimate", &mut |x, l, r, o| {
        MeanEstimator::<f64, Strict>::estimate(&mut q, x, 0.5, l, r, o).map(drop)
    });
}

#[test]
fn kl_steps_and_the_mode_seeking_solver_check_their_lengths() {
    let mut rm = robbins_monro();
    rejects_every_wrong_length("RobbinsMonro::minimize", &mut |x, l, r, o| {
        rm.minimize(x, 0.5, l, r, o).map(drop)
    });
    let mut rmq = rm_quadrature();
    rejects_every_wrong_length("RobbinsMonro::minimize (quadrature)", &mut |x, l, r, o| {
        rmq.minimize(x, 0.5, l, r, o).map(drop)
    });
    let mut ms = MeanSeeking::new(sgld());
    rejects_every_wrong_length("MeanSeeking<Sgld>::step", &mut |x, l, r, o| {
        ms.step(x, 0.5, l, r, o).map(drop)
    });
    let mut msi = MeanSeeking::new(ImportanceSampling::new(30));
    rejects_every_wrong_length(
        "MeanSeeking<ImportanceSampling>::step",
        &mut |x, l, r, o| msi.step(x, 0.5, l, r, o).map(drop),
    );
    let mut msq = MeanSeeking::new(Quadrature::new(21, 6.0));
    rejects_every_wrong_length("MeanSeeking<Quadrature>::step", &mut |x, l, r, o| {
        KlStep::<f64, Strict>::step(&mut msq, x, 0.5, l, r, o).map(drop)
    });
    let mut mo = ModeSeeking::new(robbins_monro());
    rejects_every_wrong_length("ModeSeeking<RobbinsMonro>::step", &mut |x, l, r, o| {
        mo.step(x, 0.5, l, r, o).map(drop)
    });
}

#[test]
fn local_entropy_gradient_checks_its_lengths_for_every_estimator() {
    let mut s = sgld();
    rejects_every_wrong_length("local_entropy_gradient(Sgld)", &mut |x, l, r, o| {
        GradientOracle::estimate(
            &mut LocalEntropyGradient::with_estimator(0.5, &mut s),
            x,
            l,
            0,
            r,
            o,
        )
        .map(drop)
    });
    let mut is = ImportanceSampling::new(30);
    rejects_every_wrong_length("local_entropy_gradient(IS)", &mut |x, l, r, o| {
        GradientOracle::estimate(
            &mut LocalEntropyGradient::with_estimator(0.5, &mut is),
            x,
            l,
            0,
            r,
            o,
        )
        .map(drop)
    });
    let mut q = Quadrature::new(21, 6.0);
    rejects_every_wrong_length("local_entropy_gradient(Quadrature)", &mut |x, l, r, o| {
        GradientOracle::estimate(
            &mut LocalEntropyGradient::with_estimator(0.5, &mut q),
            x,
            l,
            0,
            r,
            o,
        )
        .map(drop)
    });
}

/// A user's estimator that trusts its arguments (E_q[Y] ≈ x, written with `copy_from`, which
/// panics on a length mismatch): `local_entropy_gradient` must check before calling it.
struct Trusting;

impl MeanEstimator<f64, Strict> for Trusting {
    fn estimate(
        &mut self,
        x: &DVector<f64>,
        _tau: f64,
        loss: &Strict,
        _rng: &mut Prng,
        mean: &mut DVector<f64>,
    ) -> Result<wide_valleys::Report> {
        let _ = loss.cost(x, &Batch::Full);
        mean.copy_from(x);
        Ok(Default::default())
    }
}

#[test]
fn local_entropy_gradient_checks_before_a_trusting_estimator() {
    rejects_every_wrong_length(
        "local_entropy_gradient(user estimator)",
        &mut |x, l, r, o| {
            GradientOracle::estimate(
                &mut LocalEntropyGradient::with_estimator(0.5, &mut Trusting),
                x,
                l,
                0,
                r,
                o,
            )
            .map(drop)
        },
    );
}

#[test]
fn quadrature_gaussian_mean_gradient_checks_its_lengths() {
    let q = Quadrature::new(21, 6.0);
    rejects_every_wrong_length("Quadrature::gaussian_mean_gradient", &mut |x, l, _, o| {
        q.gaussian_mean_gradient(x, 0.5, l, o).map(drop)
    });
}

/// Every gradient oracle through `GradientOracle::estimate`.
fn oracle<G: GradientOracle<f64, Strict>>(name: &str, mut oracle: G) {
    rejects_every_wrong_length(name, &mut |x, l, r, o| {
        oracle.estimate(x, l, 0, r, o).map(drop)
    });
}

#[test]
fn every_gradient_oracle_checks_x_the_loss_and_the_output_buffer() {
    oracle("HeatGradient", HeatGradient::new(0.5, 4));
    oracle("LocalEntropyGradient", LocalEntropyGradient::new(0.5, 5));
    oracle(
        "LocalEntropyGradient (data term)",
        DataTerm::new(LocalEntropyGradient::new(0.5, 5), 0.1),
    );
    oracle("HopfLaxGradient", HopfLaxGradient::new(0.5, 5));
    oracle("SamGradient", SamGradient::new(0.05));
    oracle("PlainGradient", PlainGradient::new());
    oracle(
        "TrivializedGradient",
        TrivializedGradient::new(0.1, 3, 1, 10.0),
    );
}

#[test]
fn regularized_loss_estimators_check_x_against_the_loss() {
    // No output buffers: x of the wrong length and a loss of another dimension.
    type Est<'a> = Box<dyn FnMut(&DVector<f64>, &Strict) -> Result<f64> + 'a>;
    let q = Quadrature::new(21, 6.0);
    let (mut mc1, mut mc2) = (MonteCarlo::new(20), MonteCarlo::new(20));
    let entries: Vec<(&str, Est<'_>)> = vec![
        (
            "MonteCarlo::local_entropy",
            Box::new(|x, l| {
                mc1.local_entropy(x, 0.5, l, &mut rng::seeded(1))
                    .map(|e| e.value)
            }),
        ),
        (
            "MonteCarlo::heat",
            Box::new(|x, l| mc2.heat(x, 0.5, l, &mut rng::seeded(1)).map(|e| e.value)),
        ),
        (
            "local_entropy_quadrature",
            Box::new(|x, l| local_entropy_quadrature(&q, x, 0.5, l)),
        ),
        (
            "heat_quadrature",
            Box::new(|x, l| heat_quadrature(&q, x, 0.5, l)),
        ),
        (
            "Quadrature::local_entropy",
            Box::new(|x, l| q.local_entropy(x, 0.5, l)),
        ),
        ("Quadrature::heat", Box::new(|x, l| q.heat(x, 0.5, l))),
    ];
    for (name, mut f) in entries {
        for (nx, dim) in [(D + 1, D), (D - 1, D), (D, D + 1)] {
            let (x, loss) = (point(nx), Strict::new(dim));
            let got = no_panic(name, || f(&x, &loss));
            assert!(
                matches!(got, Err(Error::DimensionMismatch { expected, got }) if (expected, got) == (dim, nx)),
                "{name}: x {nx}, dim {dim}: {got:?}"
            );
            assert_eq!(loss.calls(), 0, "{name}: the loss was called");
        }
        assert!(f(&point(D), &Strict::new(D)).is_ok(), "{name}");
    }
}

#[test]
fn sgld_burn_in_that_overflows_is_a_typed_error() {
    let loss = Strict::new(D);
    let x = point(D);
    let mut mean = DVector::from_element(D, 7.0);
    for (burn_in, samples) in [(usize::MAX, 20), (usize::MAX - 5, 6), (1, usize::MAX)] {
        let mut s = Sgld::paper().burn_in(burn_in).samples(samples);
        let got = no_panic("Sgld burn_in overflow", || {
            s.estimate(&x, 0.5, &loss, &mut rng::seeded(0), &mut mean)
        });
        assert!(
            matches!(
                &got,
                Err(Error::InvalidHyperParameter {
                    name: "burn_in",
                    ..
                })
            ),
            "burn_in {burn_in}, samples {samples}: {got:?}"
        );
        assert!(s.validate().is_err());
        assert!(s.chain().is_none());
    }
    assert_eq!(loss.calls(), 0);
    assert!(mean.iter().all(|&v| v == 7.0));
    // Through a scheme: x, the counter and the generator stay as they were.
    let mut scheme = LocalEntropy::new(0.5).estimator(Sgld::paper().burn_in(usize::MAX));
    let mut x = point(D);
    let before = (bits(&x), scheme.clone());
    let e = no_panic("LocalEntropy + Sgld burn_in overflow", || {
        scheme.step(&mut x, &loss)
    });
    assert!(
        matches!(
            e,
            Err(Error::InvalidHyperParameter {
                name: "burn_in",
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(bits(&x), before.0);
    assert_eq!(scheme.k(), before.1.k());
    // The largest burn-in that still fits is accepted by validation.
    assert!(Sgld::<f64>::paper()
        .burn_in(usize::MAX - 1000)
        .samples(1000)
        .validate()
        .is_ok());
}

#[test]
fn robbins_monro_and_importance_sampling_counts_that_overflow_are_typed_errors() {
    let (loss, x) = (Strict::new(D), point(D));
    let mut out = DVector::from_element(D, 7.0);
    // J·M overflows. (2, MAX) first: without the check it fails fast (at the allocation of the
    // M minibatches), where (MAX, 2) would panic in a debug build and loop forever in release.
    for (iterations, samples) in [(2, usize::MAX), (usize::MAX, 2)] {
        let mut rm = RobbinsMonro::paper()
            .iterations(iterations)
            .samples(samples);
        let got = no_panic("RobbinsMonro iterations·samples overflow", || {
            rm.minimize(&x, 0.5, &loss, &mut rng::seeded(0), &mut out)
        });
        assert!(
            matches!(
                got,
                Err(Error::InvalidHyperParameter {
                    name: "iterations",
                    ..
                })
            ),
            "{iterations} iterations, {samples} samples: {got:?}"
        );
    }
    // M alone too large to allocate its minibatches.
    let mut rm = RobbinsMonro::paper().iterations(1).samples(usize::MAX);
    let got = no_panic("RobbinsMonro samples = usize::MAX", || {
        rm.minimize(&x, 0.5, &loss, &mut rng::seeded(0), &mut out)
    });
    assert!(
        matches!(
            got,
            Err(Error::InvalidHyperParameter {
                name: "samples",
                ..
            })
        ),
        "{got:?}"
    );
    let mut is = ImportanceSampling::new(usize::MAX).chunks(usize::MAX);
    let got = no_panic("ImportanceSampling chunks = usize::MAX", || {
        is.estimate(&x, 0.5, &loss, &mut rng::seeded(0), &mut out)
    });
    assert!(
        matches!(
            got,
            Err(Error::InvalidHyperParameter { name: "chunks", .. })
        ),
        "{got:?}"
    );
    assert_eq!(loss.calls(), 0);
    assert!(out.iter().all(|&v| v == 7.0));
}

/// An update rule called directly with a gradient (or backup) of the wrong length: `apply` does
/// nothing, `apply_keeping` returns false and writes nothing, `try_apply` reports the length; x
/// and the rule's state are unchanged throughout.
fn rule<U: UpdateRule<f64> + PartialEq>(name: &str, mut rule: U) {
    let mut x = point(D);
    // One good update first, so that momenta and moments are not all zero.
    rule.try_apply(&mut x, &DVector::from_element(D, 0.3), 0.1)
        .unwrap();
    for n in [D - 1, D + 1, 0] {
        let case = format!("{name}, grad of length {n}");
        let grad = DVector::from_element(n, 0.5);
        let (x0, s0) = (bits(&x), rule.clone());
        no_panic(&case, || rule.apply(&mut x, &grad, 0.1));
        assert_eq!(bits(&x), x0, "{case}: apply changed x");
        assert!(rule == s0, "{case}: apply changed the rule's state");
        let mut backup = DVector::from_element(D, 7.0);
        let ok = no_panic(&case, || {
            rule.apply_keeping(&mut x, &grad, 0.1, &mut backup)
        });
        assert!(!ok, "{case}: apply_keeping reported success");
        assert_eq!(bits(&x), x0, "{case}: apply_keeping changed x");
        assert!(backup.iter().all(|&v| v == 7.0), "{case}: backup written");
        assert!(rule == s0, "{case}: apply_keeping changed the rule's state");
        let e = no_panic(&case, || rule.try_apply(&mut x, &grad, 0.1));
        assert!(
            matches!(e, Err(Error::BufferLength { buffer: "grad", expected, got }) if (expected, got) == (D, n)),
            "{case}: {e:?}"
        );
        assert_eq!(bits(&x), x0, "{case}: try_apply changed x");
        assert!(rule == s0, "{case}: try_apply changed the rule's state");
    }
    // A backup of the wrong length with a good gradient.
    let (x0, s0) = (bits(&x), rule.clone());
    let grad = DVector::from_element(D, 0.5);
    let mut short = DVector::zeros(D - 1);
    let ok = no_panic(name, || rule.apply_keeping(&mut x, &grad, 0.1, &mut short));
    assert!(!ok && bits(&x) == x0 && rule == s0, "{name}: short backup");
    // try_apply's other preconditions.
    for (lr, g) in [(f64::NAN, 0.5), (-1.0, 0.5), (0.1, f64::INFINITY)] {
        let e = rule.try_apply(&mut x, &DVector::from_element(D, g), lr);
        assert!(
            matches!(
                e,
                Err(Error::InvalidHyperParameter { name: "lr", .. } | Error::NonFinite { .. })
            ),
            "{name}: lr {lr}, g {g}: {e:?}"
        );
        assert!(bits(&x) == x0 && rule == s0, "{name}");
    }
}

#[test]
fn update_rules_called_directly_never_panic_on_a_length_mismatch() {
    rule("Sgd", Sgd);
    rule("Momentum::classical", Momentum::classical(0.9));
    rule("Momentum::nesterov", Momentum::nesterov(0.9));
    rule("Adam", Adam::standard());
    rule(
        "WeightDecay<Momentum>",
        WeightDecay::new(Momentum::nesterov(0.9), 0.01),
    );
    rule(
        "WeightDecay<Adam>",
        WeightDecay::new(Adam::standard(), 0.01),
    );
}

/// Every optimizer's `step` with x of the wrong length or a loss of another dimension.
fn optimizer<S: Optimizer<f64, Strict> + Clone>(name: &str, opt: S) {
    for (nx, dim) in [(D + 1, D), (D - 1, D), (D, D + 1)] {
        let mut opt = opt.clone();
        let (mut x, loss) = (point(nx), Strict::new(dim));
        let x0 = bits(&x);
        let got = no_panic(name, || opt.step(&mut x, &loss));
        assert!(
            matches!(got, Err(Error::DimensionMismatch { expected, got }) if (expected, got) == (dim, nx)),
            "{name}: x {nx}, dim {dim}: {got:?}"
        );
        assert_eq!(bits(&x), x0, "{name}: x changed");
        assert_eq!(opt.steps_taken(), 0, "{name}: the counter advanced");
        assert_eq!(loss.calls(), 0, "{name}: the loss was called");
    }
    let mut opt = opt;
    let mut x = point(D);
    let ok = no_panic(name, || opt.step(&mut x, &Strict::new(D)));
    assert!(ok.is_ok(), "{name}: {ok:?}");
}

#[test]
fn every_optimizer_checks_x_against_the_loss() {
    optimizer("EntropySgd", EntropySgd::new(0.5, 5, 0.1));
    optimizer("Heat", Heat::new(0.5, 4, 0.1));
    optimizer("HamiltonJacobi", HamiltonJacobi::new(0.5, 5, 0.1));
    optimizer("Sam", Sam::new(0.05, 0.1));
    optimizer("TrivializedSgd", TrivializedSgd::new(0.1, 3, 1, 10.0, 0.1));
    optimizer("GradientDescent", GradientDescent::new(0.1));
    optimizer("Parle", Parle::new(2, 0.5, 1.0, 3, 0.1));
    optimizer("ElasticSgd", ElasticSgd::elastic(2, 1.0, 0.1));
    optimizer(
        "LocalEntropy<Sgld>",
        LocalEntropy::new(0.5).estimator(sgld()),
    );
    optimizer(
        "LocalEntropy<ImportanceSampling>",
        LocalEntropy::new(0.5).estimator(ImportanceSampling::new(30)),
    );
    optimizer(
        "LocalEntropy<Quadrature>",
        LocalEntropy::new(0.5).estimator(Quadrature::new(21, 6.0)),
    );
    optimizer(
        "HeatRegularization",
        HeatRegularization::new(0.5).solver(robbins_monro()),
    );
}

/// `Quadratic` (issue 20, item 6): bad data is a typed error at construction, and a wrong-length
/// x gives NaN from the cost, the gradient and every closed form, never a panic.
#[test]
fn quadratic_refuses_bad_data_and_never_panics() {
    use nalgebra::{dmatrix, dvector};
    use wide_valleys::objectives::Quadratic;
    let hessian = |r: Result<Quadratic<f64>>| match r {
        Err(Error::InvalidHyperParameter { name, .. }) => name,
        other => panic!("{other:?}"),
    };
    // Indefinite, asymmetric, non-finite.
    assert_eq!(
        hessian(Quadratic::new(
            dmatrix![1.0, 0.0; 0.0, -1.0],
            dvector![0.0, 0.0]
        )),
        "hessian"
    );
    assert_eq!(
        hessian(Quadratic::new(
            dmatrix![2.0, 1.0; 0.0, 2.0],
            dvector![0.0, 0.0]
        )),
        "hessian"
    );
    assert_eq!(
        hessian(Quadratic::new(
            dmatrix![f64::NAN, 0.0; 0.0, 1.0],
            dvector![0.0, 0.0]
        )),
        "hessian"
    );
    // Shapes.
    assert!(matches!(
        Quadratic::new(dmatrix![1.0, 0.0; 0.0, 1.0], dvector![0.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Quadratic::new(dmatrix![1.0, 0.0], dvector![0.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Quadratic::new(dmatrix![1.0, 0.0; 0.0, 1.0], dvector![f64::INFINITY, 0.0]),
        Err(Error::NonFinite { .. })
    ));
    let q: Quadratic<f64> =
        Quadratic::new(dmatrix![2.0, 0.0; 0.0, 1.0], dvector![1.0, -1.0]).unwrap();
    let wrong: DVector<f64> = dvector![1.0, 2.0, 3.0];
    no_panic("Quadratic on a wrong-length x", || {
        assert!(q.cost(&wrong, &Batch::Full).is_nan());
        let mut g = DVector::zeros(2);
        q.gradient(&wrong, &Batch::Full, &mut g);
        assert!(g.iter().all(|v| v.is_nan()));
        let mut g3 = DVector::zeros(3);
        q.gradient(&dvector![1.0, 2.0], &Batch::Full, &mut g3);
        assert!(g3.iter().all(|v| v.is_nan()));
        assert!(q.heat(&wrong, 0.1).is_nan());
        assert!(q.mode_seeking_step(&wrong, 0.1).iter().all(|v| v.is_nan()));
        assert!(q.local_entropy_mean(&wrong, 0.1).iter().all(|v| v.is_nan()));
        assert!(q.local_entropy_up_to_constant(&wrong, 0.1).is_nan());
        assert!(q.prox(&wrong, 0.1).iter().all(|v| v.is_nan()));
    });
}
