//! The oracles compose: the local-entropy gradient over any estimator of E_q (gradient-free
//! Entropy-SGD with importance sampling inside, on a loss that has only values), Parle and
//! Elastic-SGD over any inner oracle (HEAT, IS-local-entropy), SAM around any oracle, and the data
//! term and elastic coupling as wrappers whose arithmetic is exactly the sum they name.

#[path = "optimizers_common.rs"]
mod common;

use common::{quadratic, start};
use nalgebra::DVector;
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::*;
use wide_valleys::sampling::{ImportanceSampling, Quadrature};
use wide_valleys::smoothing::*;
use wide_valleys::{rng, Batch, Cost, FnCost, Gradient, Optimizer};

const D: usize = 10;

/// The quadratic as a loss with values only (no gradient): what importance sampling needs.
fn values_only(q: &Quadratic<f64>) -> impl Cost<f64> + '_ {
    FnCost::new(q.dim(), move |x: &DVector<f64>| q.cost(x, &Batch::Full))
}

fn run<O: ?Sized, Op: Optimizer<f64, O>>(opt: &mut Op, loss: &O, steps: usize) -> DVector<f64> {
    let mut x = start(D, 11);
    for _ in 0..steps {
        opt.step(&mut x, loss).unwrap();
    }
    x
}

#[test]
fn gradient_free_entropy_sgd_converges_on_a_quadratic() {
    // 000 §5: E_q[Y] by importance sampling (Alg. 4) needs only f; fed to SGD as the local-entropy
    // gradient (scaled, 003 §3.2.3) it is Entropy-SGD without a single gradient of f.
    let q = quadratic(D, 5);
    let f = values_only(&q);
    let oracle =
        LocalEntropyGradient::with_estimator(0.1, ImportanceSampling::new(2000)).scaled(true);
    let mut opt = SmoothedOptimizer::with_oracle(oracle, 0.5).seed(3);
    let x = run(&mut opt, &f, 150);
    let err = (&x - q.minimizer()).norm();
    assert!(err < 0.1, "|x − x*| = {err}");
    // Every evaluation was a loss value: J per step.
    let r = opt.step(&mut x.clone(), &f).unwrap();
    assert_eq!((r.cost_evaluations, r.gradient_evaluations), (2000, 0));
}

#[test]
fn parle_over_heat_converges() {
    // 003 eq. 5.8c–d with HEAT's gradient (eq. 4.43) inside each replica.
    let q = quadratic(D, 5);
    let heat = HeatGradient::new(0.05, 20);
    let mut parle = Parle::with_oracle(3, heat, 1.0, 0.1).seed(4);
    let x = run(&mut parle, &q, 300);
    let err = (&x - q.minimizer()).norm();
    assert!(err < 0.1, "|x − x*| = {err}");
    let r = parle.step(&mut x.clone(), &q).unwrap();
    assert_eq!(r.gradient_evaluations, 3 * 20);
    assert_eq!(r.scope, Some(0.05));
    assert_eq!(r.coupling, Some(1.0));
}

#[test]
fn parle_over_importance_sampling_local_entropy_converges_without_gradients() {
    let q = quadratic(D, 5);
    let f = values_only(&q);
    let oracle =
        LocalEntropyGradient::with_estimator(0.1, ImportanceSampling::new(1000)).scaled(true);
    let mut parle = Parle::with_oracle(3, oracle, 1.0, 0.5).seed(5);
    let x = run(&mut parle, &f, 150);
    let err = (&x - q.minimizer()).norm();
    assert!(err < 0.1, "|x − x*| = {err}");
}

#[test]
fn sam_around_heat_converges_and_around_the_plain_gradient_is_sam() {
    let q = quadratic(D, 5);
    let inner = HeatGradient::new(0.01, 10);
    let mut opt = SmoothedOptimizer::with_oracle(SamGradient::around(inner, 0.05), 0.1).seed(6);
    let x = run(&mut opt, &q, 400);
    // SAM's fixed point on a quadratic sits where ∇f(x + r ĝ) = 0: within r of the minimizer.
    let err = (&x - q.minimizer()).norm();
    assert!(err < 0.05 + 0.05, "|x − x*| = {err}");
    // Around the plain gradient: exactly ∇f(x + r g/|g|), g = ∇f(x).
    let x = start(D, 2);
    let mut g = DVector::zeros(D);
    GradientOracle::estimate(
        &mut SamGradient::new(0.05),
        &x,
        &q,
        0,
        &mut rng::seeded(0),
        &mut g,
    )
    .unwrap();
    let mut g0 = DVector::zeros(D);
    q.gradient(&x, &Batch::Full, &mut g0);
    let y = &x + &g0 * (0.05 / g0.norm());
    let mut expected = DVector::zeros(D);
    q.gradient(&y, &Batch::Full, &mut expected);
    // |g| is summed in another order here than in the crate's norm: equal to rounding.
    assert!((&g - &expected).norm() < 1e-13 * expected.norm());
    assert_ne!(g, g0, "the gradient is taken at the ascent point");
}

#[test]
fn data_term_and_elastic_coupling_add_exactly_their_terms() {
    let loss = common::LeastSquares::new(50, D, 4, 1);
    let x = start(D, 2);
    // HEAT + ρ∇f(x) on the minibatch drawn after HEAT's.
    let heat = HeatGradient::new(0.1, 3);
    let (mut r1, mut r2) = (rng::seeded(4), rng::seeded(4));
    let (mut g1, mut g2, mut gf) = (DVector::zeros(D), DVector::zeros(D), DVector::zeros(D));
    GradientOracle::estimate(
        &mut DataTerm::new(heat.clone(), 0.3),
        &x,
        &loss,
        0,
        &mut r1,
        &mut g1,
    )
    .unwrap();
    GradientOracle::estimate(&mut heat.clone(), &x, &loss, 0, &mut r2, &mut g2).unwrap();
    let mut batch = Batch::Full;
    loss.draw_batch(&mut r2, &mut batch);
    loss.gradient(&x, &batch, &mut gf);
    assert_eq!(g1, &g2 + &gf * 0.3);
    assert_eq!(r1, r2);
    // ∇f + (x − m)/ρ towards a master m.
    let m = start(D, 9);
    let mut coupled = ElasticCoupling::new(PlainGradient::new());
    coupled.set_master(&m, 2.0).unwrap();
    let (mut r1, mut r2) = (rng::seeded(5), rng::seeded(5));
    GradientOracle::estimate(&mut coupled, &x, &loss, 0, &mut r1, &mut g1).unwrap();
    GradientOracle::estimate(&mut PlainGradient::new(), &x, &loss, 0, &mut r2, &mut g2).unwrap();
    let expected = DVector::from_fn(D, |i, _| g2[i] + (x[i] - m[i]) * 0.5);
    assert_eq!(g1, expected);
    assert!(coupled.set_master(&m, 0.0).is_err(), "ρ must be > 0");
}

#[test]
fn local_entropy_gradient_over_quadrature_is_000_eq_12() {
    // 1-D mixture with a closed-form ∇F_τ: the oracle over exact quadrature reproduces it, and an
    // optimizer built on it is gradient descent on F_τ.
    let mix = wide_valleys::objectives::GaussianMixture::<f64>::wide_and_sharp();
    let mut oracle = LocalEntropyGradient::with_estimator(0.4, Quadrature::new(801, 10.0));
    let mut g = DVector::zeros(1);
    for x0 in [-2.5, -1.0, 0.3, 2.0] {
        let x = DVector::from_element(1, x0);
        GradientOracle::estimate(&mut oracle, &x, &mix, 0, &mut rng::seeded(0), &mut g).unwrap();
        let exact = mix.local_entropy_gradient(&x, 0.4);
        assert!((g[0] - exact[0]).abs() < 1e-8 * (1.0 + exact[0].abs()));
    }
}
