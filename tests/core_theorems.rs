//! 000 eq. 12, Theorem 2 and Theorem 4 as properties, with exact (quadrature) expectations on
//! randomly drawn 1-D and 2-D landscapes: Gaussian mixtures, quadratics, sums of sines plus a
//! confining quadratic.
//!
//! The majorization–minimization proofs give more than monotonicity, and that is what is tested:
//! - Thm 2 (Alg. 1): F_τ(x_{k+1}) ≤ F_τ(x_k) − |x_{k+1} − x_k|²/(2τ), since
//!   A(x, x_k) − A(x_k, x_k) = (|x − m|² − |x_k − m|²)/(2τ) with m = E_q = x_{k+1};
//!   with eq. 12, x_{k+1} − x_k = −τ∇F_τ(x_k): a step is zero only at a critical point.
//! - Thm 4 (Alg. 2): x_{k+1} decreases S(x) = F^H_τ(x) + |x − x_k|²/(2τ) (= KL(φ_x‖q_{x_k}) + c);
//!   Robbins–Monro with exact expectations and a_j ≤ 1/(1 + τL) (L ≥ |∇²f|) is gradient descent
//!   on S with step a_jτ ≤ 1/Lip(∇S), so S(x_{k+1}) ≤ S(x_k) − (a_1τ/2)|∇F^H_τ(x_k)|²: strict
//!   decrease unless x_k is critical.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::Rng;
use wide_valleys::kl::{GaussianExpectation, RobbinsMonro};
use wide_valleys::objectives::{GaussianMixture, Quadratic};
use wide_valleys::rng::seeded;
use wide_valleys::sampling::Quadrature;
use wide_valleys::{Batch, Cost, Gradient, HeatRegularization, LocalEntropy};

/// f(y) = ½κ|y|² + Σᵢ aᵢ sin(ωᵢ·y + φᵢ): smooth, non-convex, confined.
struct Sines {
    d: usize,
    kappa: f64,
    terms: Vec<(f64, DVector<f64>, f64)>,
}

impl Cost<f64> for Sines {
    fn dim(&self) -> usize {
        self.d
    }
    fn cost(&self, y: &DVector<f64>, _: &Batch) -> f64 {
        0.5 * self.kappa * y.norm_squared()
            + self
                .terms
                .iter()
                .map(|(a, w, p)| a * (w.dot(y) + p).sin())
                .sum::<f64>()
    }
}

impl Gradient<f64> for Sines {
    fn gradient(&self, y: &DVector<f64>, _: &Batch, g: &mut DVector<f64>) {
        g.copy_from(y);
        *g *= self.kappa;
        for (a, w, p) in &self.terms {
            g.axpy(a * (w.dot(y) + p).cos(), w, 1.0);
        }
    }
}

/// A random landscape of the given kind and dimension, with a bound L ≥ sup |∇²f|.
fn landscape(kind: usize, d: usize, seed: u64) -> (Box<dyn Gradient<f64>>, f64) {
    let mut r = seeded(seed);
    let vec = |r: &mut wide_valleys::Prng, lo: f64, hi: f64| {
        DVector::from_fn(d, |_, _| r.random_range(lo..hi))
    };
    match kind {
        0 => {
            // equal variances s²: s⁻² − D²/(4s⁴) ≤ ∇²f ≤ s⁻² (D = max distance between means)
            let n = r.random_range(2..4usize);
            let s2: f64 = r.random_range(0.3..1.5);
            let w: Vec<f64> = (0..n).map(|_| r.random_range(0.2..1.0)).collect();
            let tot: f64 = w.iter().sum();
            let means: Vec<DVector<f64>> = (0..n).map(|_| vec(&mut r, -2.5, 2.5)).collect();
            let mut dmax: f64 = 0.0;
            for a in &means {
                for b in &means {
                    dmax = dmax.max((a - b).norm());
                }
            }
            let l = (1.0 / s2).max(dmax * dmax / (4.0 * s2 * s2) - 1.0 / s2);
            let mix = GaussianMixture::new(w.iter().map(|v| v / tot).collect(), means, vec![s2; n]);
            (Box::new(mix), l)
        }
        1 => {
            let l1: f64 = r.random_range(0.2..3.0);
            let l2: f64 = r.random_range(0.2..3.0);
            let th: f64 = r.random_range(0.0..3.2);
            let a = if d == 1 {
                DMatrix::from_element(1, 1, l1)
            } else {
                let (c, s) = (th.cos(), th.sin());
                let rot = DMatrix::from_row_slice(2, 2, &[c, -s, s, c]);
                &rot * DMatrix::from_diagonal(&DVector::from_vec(vec![l1, l2])) * rot.transpose()
            };
            let b = vec(&mut r, -1.5, 1.5);
            (Box::new(Quadratic::new(a, b).unwrap()), l1.max(l2))
        }
        _ => {
            let kappa: f64 = r.random_range(0.3..1.5);
            let terms: Vec<(f64, DVector<f64>, f64)> = (0..3)
                .map(|_| {
                    (
                        r.random_range(-1.0..1.0),
                        vec(&mut r, -1.5, 1.5),
                        r.random_range(0.0..6.3),
                    )
                })
                .collect();
            let l = kappa
                + terms
                    .iter()
                    .map(|(a, w, _)| a.abs() * w.norm_squared())
                    .sum::<f64>();
            (Box::new(Sines { d, kappa, terms }), l)
        }
    }
}

fn fd_gradient(f: impl Fn(&DVector<f64>) -> f64, x: &DVector<f64>, h: f64) -> DVector<f64> {
    DVector::from_fn(x.len(), |i, _| {
        let (mut p, mut m) = (x.clone(), x.clone());
        p[i] += h;
        m[i] -= h;
        (f(&p) - f(&m)) / (2.0 * h)
    })
}

fn grid(d: usize) -> Quadrature {
    Quadrature::new(if d == 1 { 401 } else { 121 }, 10.0)
}

#[test]
fn eq12_mean_seeking_step_is_gradient_descent_on_local_entropy_with_rate_tau() {
    // Against central differences of the *closed-form* F_τ (independent of the quadrature).
    let mix = GaussianMixture::<f64>::wide_and_sharp();
    for &tau in &[0.05, 0.5, 2.0] {
        for &x0 in &[-3.0, -2.1, -1.0, 0.0, 0.8, 2.5] {
            let mut x = DVector::from_element(1, x0);
            let g = fd_gradient(|y| mix.local_entropy(y, tau), &x, 1e-5);
            let mut s = LocalEntropy::new(tau).estimator(Quadrature::new(801, 10.0));
            let rep = s.step(&mut x, &mix).unwrap();
            let expected = x0 - tau * g[0];
            assert!(
                (x[0] - expected).abs() < 1e-6 * (1.0 + g[0].abs()),
                "tau {tau}, x0 {x0}: {} vs {expected}",
                x[0]
            );
            assert!((rep.step_norm.unwrap() - tau * g[0].abs()).abs() < 1e-6 * (1.0 + g[0].abs()));
        }
    }
}

#[test]
fn local_entropy_gradient_oracle_matches_the_closed_form() {
    let mix = GaussianMixture::<f64>::wide_and_sharp();
    // The local-entropy oracle over exact quadrature: (x − E_q[Y])/τ of 000 eq. 12.
    let mut oracle = wide_valleys::smoothing::LocalEntropyGradient::with_estimator(
        0.4,
        Quadrature::new(801, 10.0),
    );
    let mut g = DVector::zeros(1);
    for &x0 in &[-2.5, -1.0, 0.3, 2.0] {
        let x = DVector::from_element(1, x0);
        wide_valleys::smoothing::GradientOracle::estimate(
            &mut oracle,
            &x,
            &mix,
            0,
            &mut seeded(0),
            &mut g,
        )
        .unwrap();
        let exact = mix.local_entropy_gradient(&x, 0.4);
        assert!((g[0] - exact[0]).abs() < 1e-8 * (1.0 + exact[0].abs()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn theorem2_local_entropy_decreases_with_mm_margin_and_stops_only_at_critical_points(
        seed in any::<u64>(), kind in 0usize..3, d in 1usize..=2, tau in 0.2f64..1.0,
        x0 in proptest::collection::vec(-3.0f64..3.0, 2),
    ) {
        let (loss, _) = landscape(kind, d, seed);
        let loss: &dyn Gradient<f64> = &*loss;
        let quad = grid(d);
        let big_f = |y: &DVector<f64>| quad.local_entropy(y, tau, loss).unwrap();
        let mut scheme = LocalEntropy::new(tau).estimator(quad);
        let mut x = DVector::from_fn(d, |i, _| x0[i]);
        for _ in 0..4 {
            let prev = x.clone();
            let f_prev = big_f(&prev);
            let grad = fd_gradient(big_f, &prev, 1e-4);
            scheme.step(&mut x, loss).unwrap();
            let f_new = big_f(&x);
            let step = &x - &prev;
            prop_assert!(
                f_new <= f_prev - step.norm_squared() / (2.0 * tau) + 1e-9,
                "F_tau {f_prev} -> {f_new}, |step|^2/(2 tau) = {}", step.norm_squared() / (2.0 * tau)
            );
            // eq. 12: the step is −τ∇F_τ, so it vanishes exactly at critical points.
            let err = (&step / tau + &grad).norm();
            prop_assert!(err < 1e-5 * (1.0 + grad.norm()), "eq. 12 residual {err}, |grad| {}", grad.norm());
        }
    }

    #[test]
    fn theorem4_heat_regularization_decreases_the_proximal_surrogate_with_gradient_margin(
        seed in any::<u64>(), kind in 0usize..3, d in 1usize..=2, tau in 0.2f64..1.0,
        x0 in proptest::collection::vec(-3.0f64..3.0, 2),
    ) {
        let (loss, l) = landscape(kind, d, seed);
        let loss: &dyn Gradient<f64> = &*loss;
        let quad = grid(d);
        let c = 1.0 / (1.0 + tau * l);
        let rm = RobbinsMonro::paper()
            .c(c)
            .alpha(0.7)
            .iterations(40)
            .expectation(GaussianExpectation::Quadrature(Quadrature::new(if d == 1 { 201 } else { 81 }, 10.0)));
        let mut scheme = HeatRegularization::new(tau).solver(rm);
        let mut x = DVector::from_fn(d, |i, _| x0[i]);
        let mut g = DVector::zeros(d);
        for _ in 0..3 {
            let prev = x.clone();
            let fh_prev = quad.heat(&prev, tau, loss).unwrap();
            quad.gaussian_mean_gradient(&prev, tau, loss, &mut g).unwrap();
            scheme.step(&mut x, loss).unwrap();
            let fh_new = quad.heat(&x, tau, loss).unwrap();
            let step2 = (&x - &prev).norm_squared();
            let margin = 0.5 * c * tau * g.norm_squared();
            prop_assert!(
                fh_new + step2 / (2.0 * tau) <= fh_prev - margin + 1e-9 * (1.0 + fh_prev.abs()),
                "S: {fh_prev} -> {} (margin {margin})", fh_new + step2 / (2.0 * tau)
            );
            prop_assert!(fh_new <= fh_prev + 1e-9 * (1.0 + fh_prev.abs()), "Thm 4: F^H_tau {fh_prev} -> {fh_new}");
        }
    }
}
