//! The smoothed-gradient oracles against closed forms on a quadratic f = ½xᵀAx + bᵀx
//! (`shared/DESIGN.md`): local entropy ∇F_γ = (x − E_q[Y])/γ with E_q[Y] = (A + I/γ)⁻¹(x/γ − b);
//! Hopf–Lax ∇u = (x − prox_{γf}(x))/γ; heat ∇F^H_γ = ∇f.

#[path = "optimizers_common.rs"]
mod common;

use common::{quadratic, start};
use nalgebra::DVector;
use wide_valleys::objective::{Batch, Counted, Counts, Gradient};
use wide_valleys::objectives::GaussianMixture;
use wide_valleys::rng;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::{Averaging, NoiseScale};
use wide_valleys::smoothing::*;

const D: usize = 10;

#[test]
fn langevin_oracle_estimates_the_local_entropy_gradient() {
    // β⁻¹ = 1 with σ = √(2η′β⁻¹) samples q_{x,γ} (000 eq. 6); on a quadratic the Euler chain's
    // stationary mean is exact, so the only error is Monte Carlo.
    let q = quadratic(D, 3);
    let x = start(D, 4);
    let gamma = 0.5;
    let exact = (&x - q.local_entropy_mean(&x, gamma)) / gamma;
    let mut oracle = LocalEntropyGradient::with_estimator(
        gamma,
        ExponentialSgld::new(4000)
            .langevin_step(0.05)
            .thermal_noise(1.0)
            .averaging(Averaging::new_sample_weight(0.005)),
    );
    let mut r = rng::seeded(1);
    let mut g = DVector::zeros(D);
    let mut mean = DVector::zeros(D);
    let calls = 200;
    for _ in 0..calls {
        oracle.estimate(&x, &q, 0, &mut r, &mut g).unwrap();
        mean += &g / calls as f64;
    }
    let rel = (&mean - &exact).norm() / exact.norm();
    assert!(rel < 0.03, "relative error {rel}");
    // Scaled form (003 §3.2.3) is γ times the same estimate, bit for bit given the same stream.
    let mut scaled = oracle.clone().scaled(true);
    let (mut r1, mut r2) = (rng::seeded(9), rng::seeded(9));
    let mut gs = DVector::zeros(D);
    oracle.estimate(&x, &q, 0, &mut r1, &mut g).unwrap();
    scaled.estimate(&x, &q, 0, &mut r2, &mut gs).unwrap();
    assert!((&g * gamma - &gs).norm() < 1e-12 * gs.norm());
}

#[test]
fn local_entropy_gradient_on_the_mixture_matches_the_exact_one() {
    // 1-D wide-and-sharp mixture, exact ∇F_τ from the closed form (000 eq. 12, 15).
    let f = GaussianMixture::<f64>::wide_and_sharp();
    let x = DVector::from_element(1, 0.5);
    let gamma = 0.3;
    let exact = f.local_entropy_gradient(&x, gamma)[0];
    let mut oracle = LocalEntropyGradient::with_estimator(
        gamma,
        ExponentialSgld::new(20000)
            .langevin_step(0.05)
            .thermal_noise(1.0)
            .averaging(Averaging::new_sample_weight(0.001)),
    );
    let mut r = rng::seeded(2);
    let mut g = DVector::zeros(1);
    let mut mean = 0.0;
    for _ in 0..100 {
        oracle.estimate(&x, &f, 0, &mut r, &mut g).unwrap();
        mean += g[0] / 100.0;
    }
    assert!(
        (mean - exact).abs() < 0.05 * exact.abs().max(0.1),
        "{mean} vs {exact}"
    );
}

#[test]
fn hopf_lax_oracle_is_the_proximal_gradient() {
    // Noiseless inner gradient descent converges to prox_{γf}(x) (003 eq. 4.18); the oracle
    // returns (x − y_L)/γ = ∇f(prox_{γf}(x)).
    let q = quadratic(D, 3);
    let x = start(D, 4);
    let gamma = 0.5;
    let p = q.prox(&x, gamma);
    let exact = (&x - &p) / gamma;
    let mut oracle = HopfLaxGradient::new(gamma, 400).inner_step(0.1);
    let mut g = DVector::zeros(D);
    oracle
        .estimate(&x, &q, 0, &mut rng::seeded(0), &mut g)
        .unwrap();
    assert!((&g - &exact).norm() < 1e-10 * exact.norm());
    let mut gp = DVector::zeros(D);
    q.gradient(&p, &Batch::Full, &mut gp);
    assert!((&g - &gp).norm() < 1e-9 * gp.norm());
}

#[test]
fn heat_oracle_is_unbiased_for_the_gradient_of_a_quadratic() {
    // F^H_γ = f + γ tr(A)/2, so ∇F^H_γ = ∇f; the estimate's error has covariance γA²/L.
    let q = quadratic(D, 3);
    let x = start(D, 4);
    let mut exact = DVector::zeros(D);
    q.gradient(&x, &Batch::Full, &mut exact);
    let mut oracle = HeatGradient::new(0.2, 50);
    let mut r = rng::seeded(3);
    let mut g = DVector::zeros(D);
    let mut mean = DVector::zeros(D);
    let mut single_err = 0.0;
    for i in 0..200 {
        oracle.estimate(&x, &q, 0, &mut r, &mut g).unwrap();
        if i == 0 {
            single_err = (&g - &exact).norm();
        }
        mean += &g / 200.0;
    }
    assert!(
        single_err > 1e-3,
        "no noise at all: the perturbations are not applied"
    );
    assert!((&mean - &exact).norm() < 0.02 * exact.norm());
}

#[test]
fn sam_oracle_ascends_by_the_radius() {
    // For a quadratic: ∇f(x + r g/|g|) = g + r A g/|g|.
    let q = quadratic(D, 3);
    let x = start(D, 4);
    let mut g0 = DVector::zeros(D);
    q.gradient(&x, &Batch::Full, &mut g0);
    let expected = &g0 + q.hessian() * &g0 * (0.3 / g0.norm());
    let mut g = DVector::zeros(D);
    SamGradient::new(0.3)
        .estimate(&x, &q, 0, &mut rng::seeded(0), &mut g)
        .unwrap();
    assert!((&g - &expected).norm() < 1e-12 * expected.norm());
}

#[test]
fn trivialized_field_follows_eq_2_20() {
    // τ_i = n(e^{−i/τ₀} − ½), factor (1 + 2τ_i/N)^{1/2}: at i = 0 it is (1 + n/N)^{1/2}, and
    // with n = N it tends to 0.
    let t = TrivializedGradient::<f64>::new(1.0, 3, D, 10.0);
    assert!((t.tau_at(0) - D as f64 / 2.0).abs() < 1e-12);
    assert!((t.field_factor(0, D) - 2f64.sqrt()).abs() < 1e-12);
    assert!((t.field_factor(25, D) - (2.0 * (-2.5f64).exp()).sqrt()).abs() < 1e-12);
    assert!(t.field_factor(1000, D) < 1e-20);
    // The gradient is ∇f + factor·h with |h|² ≈ J²p(p−2)·N.
    let q = quadratic(D, 3);
    let x = start(D, 4);
    let mut t = t;
    let mut g = DVector::zeros(D);
    t.estimate(&x, &q, 0, &mut rng::seeded(5), &mut g).unwrap();
    let mut gf = DVector::zeros(D);
    q.gradient(&x, &Batch::Full, &mut gf);
    let h = (&g - &gf) / t.field_factor(0, D);
    assert!((&h - t.field()).norm() < 1e-12 * h.norm());
    let ratio = t.field().norm_squared() / (3.0 * D as f64);
    assert!(ratio > 0.2 && ratio < 3.0, "|h|^2/(J^2 p(p-2) N) = {ratio}");
}

#[test]
fn noise_scale_conventions() {
    // 003 Alg. 2: √(2η′β⁻¹); 003 eq. 4.39: √(η′β⁻¹); 004 Alg. 1: √η′·ε.
    let (eta, t) = (0.08f64, 0.5f64);
    assert!((NoiseScale::TwoStepTemperature.sigma(eta, t) - (2.0 * eta * t).sqrt()).abs() < 1e-15);
    assert!((NoiseScale::StepTemperature.sigma(eta, t) - (eta * t).sqrt()).abs() < 1e-15);
    assert!((NoiseScale::SqrtStepTimesAmplitude.sigma(eta, t) - eta.sqrt() * t).abs() < 1e-15);
    assert_eq!(NoiseScale::default(), NoiseScale::TwoStepTemperature);
    // Zero thermal noise draws no normals: the generator only serves minibatches.
    let q = quadratic(D, 3);
    let x = start(D, 4);
    let mut o =
        LocalEntropyGradient::with_estimator(0.5, ExponentialSgld::new(5).thermal_noise(0.0));
    let mut r = rng::seeded(1);
    let before = r.clone();
    let mut g = DVector::zeros(D);
    o.estimate(&x, &q, 0, &mut r, &mut g).unwrap();
    assert_eq!(r, before);
}

#[test]
fn data_term_uses_its_own_minibatch() {
    // 004 eq. 9: ρ∇f(x) on a minibatch Ξ^k drawn after (and apart from) the inner loop's Ξ^ℓ.
    let loss = common::LeastSquares::new(50, D, 4, 1);
    let x = start(D, 2);
    let base =
        LocalEntropyGradient::with_estimator(0.5, ExponentialSgld::new(3).thermal_noise(1e-2));
    let mut with = DataTerm::new(base.clone(), 0.3);
    let mut without = base;
    let (mut r1, mut r2) = (rng::seeded(4), rng::seeded(4));
    let (mut g1, mut g2, mut gf) = (DVector::zeros(D), DVector::zeros(D), DVector::zeros(D));
    let (c1, c2) = (Counts::default(), Counts::default());
    let (l1, l2) = (Counted::new(&loss, &c1), Counted::new(&loss, &c2));
    with.estimate(&x, &l1, 0, &mut r1, &mut g1).unwrap();
    without.estimate(&x, &l2, 0, &mut r2, &mut g2).unwrap();
    assert_eq!((c1.gradients(), c2.gradients()), (4, 3));
    let mut batch = Batch::Full;
    wide_valleys::Cost::draw_batch(&loss, &mut r2, &mut batch);
    loss.gradient(&x, &batch, &mut gf);
    assert!((&g1 - (&g2 + &gf * 0.3)).norm() < 1e-13 * g1.norm());
    assert_eq!(r1, r2);
}

#[test]
fn averaging_conventions_convert() {
    // 004's α = 0.9 on the new sample is 003's α = 0.1 on the old average.
    let a = Averaging::<f64>::new_sample_weight(0.9);
    let b = Averaging::<f64>::old_average_weight(0.1);
    assert!((a.weight_of_new() - b.weight_of_new()).abs() < 1e-15);
    assert_eq!(Averaging::<f64>::last_iterate().weight_of_new(), 1.0);
}
