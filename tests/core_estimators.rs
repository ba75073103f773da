//! One closed-form battery over every estimator of E_{q_{x,τ}}\[Y\] (000 eq. 15): on
//! f = ½yᵀAy + bᵀy the Gibbs measure q_{x,τ} is Gaussian with mean (A + I/τ)⁻¹(x/τ − b)
//! (DESIGN closed forms), so every estimator must find it — within its own statistical
//! tolerance — and the local-entropy gradient over it must be (x − E_q\[Y\])/τ (000 eq. 12).
//! The statistical tolerances of each estimator's law are checked in core_closed_forms.rs; here
//! the point is that one table holds every estimator and a new one is tested by adding a row.

use nalgebra::{dmatrix, dvector, DVector};
use wide_valleys::objectives::Quadratic;
use wide_valleys::rng::seeded;
use wide_valleys::sampling::Averaging;
use wide_valleys::sampling::{
    ExponentialSgld, ImportanceSampling, MeanEstimator, Quadrature, Sgld,
};
use wide_valleys::smoothing::{GradientOracle, LocalEntropyGradient};

type Estimator = Box<dyn MeanEstimator<f64, Quadratic<f64>>>;

/// (name, estimator, tolerance on |m − E_q[Y]|).
fn estimators() -> Vec<(&'static str, Estimator, f64)> {
    vec![
        ("quadrature", Box::new(Quadrature::new(401, 8.0)), 1e-6),
        (
            "importance sampling",
            Box::new(ImportanceSampling::new(40_000)),
            0.02,
        ),
        (
            "SGLD",
            Box::new(
                Sgld::paper()
                    .constant_step(0.05)
                    .burn_in(500)
                    .samples(40_000)
                    .warm_start(false),
            ),
            0.03,
        ),
        // Noiseless and keeping the last iterate, Entropy-SGD's inner loop converges to the mode
        // of q, which for a Gaussian q is its mean.
        (
            "ExponentialSgld (noiseless, last iterate)",
            Box::new(
                ExponentialSgld::new(400)
                    .langevin_step(0.05)
                    .thermal_noise(0.0)
                    .averaging(Averaging::last_iterate()),
            ),
            1e-9,
        ),
    ]
}

#[test]
fn every_estimator_finds_the_gaussian_mean_of_q_and_gives_eq_12() {
    let q = Quadratic::new(dmatrix![2.0, 0.3; 0.3, 1.0], dvector![0.5, -1.0]).unwrap();
    let (x, tau) = (dvector![1.0, -0.5], 0.4);
    let exact = q.local_entropy_mean(&x, tau);
    for (name, mut e, tol) in estimators() {
        let mut m = DVector::zeros(2);
        e.estimate(&x, tau, &q, &mut seeded(1), &mut m).unwrap();
        let err = (&m - &exact).norm();
        assert!(err < tol, "{name}: |m − E_q[Y]| = {err:e} ≥ {tol:e}");
        // E_q[Y] − x, the displacement the local-entropy gradient is built from.
        let mut d = DVector::zeros(2);
        e.estimate_displacement(&x, tau, &q, &mut seeded(1), &mut d)
            .unwrap();
        assert!(
            (&d - (&m - &x)).norm() < 1e-12,
            "{name}: displacement ≠ mean − x"
        );
        // 000 eq. 12 through the oracle, with the same estimator inside.
        let mut oracle = LocalEntropyGradient::with_estimator(tau, e);
        let mut g = DVector::zeros(2);
        oracle.estimate(&x, &q, 0, &mut seeded(1), &mut g).unwrap();
        let expected = (&x - &m) / tau;
        assert!(
            (&g - &expected).norm() <= 1e-12 * (1.0 + expected.norm()),
            "{name}: ∇F_τ ≠ (x − E_q[Y])/τ"
        );
    }
}

#[test]
fn every_estimator_refuses_a_wrong_dimension_and_a_bad_tau() {
    let q = Quadratic::new(dmatrix![2.0, 0.3; 0.3, 1.0], dvector![0.5, -1.0]).unwrap();
    for (name, mut e, _) in estimators() {
        let mut m = DVector::zeros(3);
        let r = e.estimate(&dvector![1.0, 0.0, 2.0], 0.4, &q, &mut seeded(1), &mut m);
        assert!(r.is_err(), "{name}: accepted x of the wrong dimension");
        let mut m = DVector::zeros(2);
        let r = e.estimate(&dvector![1.0, 0.0], f64::NAN, &q, &mut seeded(1), &mut m);
        assert!(r.is_err(), "{name}: accepted τ = NaN");
    }
}
