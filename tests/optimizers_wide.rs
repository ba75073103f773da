//! Wide vs sharp valley on f(x) = −log(0.3·N(x; −2, 0.05) + 0.7·N(x; 1.5, 1)): a deep sharp
//! minimum at −2 and a shallower wide one at 1.5 (`GaussianMixture::wide_and_sharp`).
//!
//! From a seeded set of starting points in the sharp minimum's basin, gradient descent ends in the
//! sharp minimum every time; Entropy-SGD, HJ and Parle with a suitable scope end in the wide
//! valley from most of them (004 §4.2, 003 §4.6). Their inner loops, with step η′ = 0.12–0.2,
//! cannot settle in a valley of curvature 1/0.05 = 20 > 2/η′, while the wide valley (curvature 1)
//! is resolved: the smoothed gradient sees only the wide valley.

use nalgebra::{dvector, DVector};
use rand::Rng;
use wide_valleys::objective::{Batch, Cost};
use wide_valleys::objectives::GaussianMixture;
use wide_valleys::optim::*;
use wide_valleys::sampling::Averaging;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::smoothing::*;
use wide_valleys::Optimizer;
use wide_valleys::{rng, Schedule};

fn landscape() -> GaussianMixture<f64> {
    GaussianMixture::wide_and_sharp()
}

fn starts() -> Vec<f64> {
    let mut r = rng::seeded(2024);
    (0..30).map(|_| r.random_range(-2.6..-1.5)).collect()
}

/// The barrier between the two basins: the maximum of f on [−2, 1.5] (grid search).
fn barrier() -> f64 {
    let f = landscape();
    (0..=3500)
        .map(|i| -2.0 + i as f64 * 1e-3)
        .max_by(|a, b| {
            f.cost(&dvector![*a], &Batch::Full)
                .total_cmp(&f.cost(&dvector![*b], &Batch::Full))
        })
        .unwrap()
}

fn run<Op: Optimizer<f64, GaussianMixture<f64>>>(
    make: impl Fn(u64) -> Op,
    steps: usize,
) -> Vec<f64> {
    let f = landscape();
    starts()
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let mut opt = make(i as u64);
            let mut x: DVector<f64> = dvector![s];
            for _ in 0..steps {
                opt.step(&mut x, &f).unwrap();
            }
            x[0]
        })
        .collect()
}

/// Fraction of end points in the wide minimum's basin, and their mean.
fn wide(ends: &[f64]) -> (f64, f64) {
    let b = barrier();
    let w: Vec<f64> = ends.iter().copied().filter(|x| *x > b).collect();
    let mean = w.iter().sum::<f64>() / w.len().max(1) as f64;
    (w.len() as f64 / ends.len() as f64, mean)
}

#[test]
fn the_starts_lie_in_the_sharp_basin_and_gradient_descent_ends_sharp() {
    let b = barrier();
    assert!(b > -1.6 && b < -1.2, "barrier at {b}");
    assert!(starts().iter().all(|s| *s < b));
    let ends = run(|s| GradientDescent::new(0.01).seed(s), 2000);
    assert!(ends.iter().all(|x| (x + 2.0).abs() < 0.05), "GD: {ends:?}");
}

fn assert_mostly_wide(name: &str, ends: &[f64], tol_mean: f64) {
    let (frac, mean) = wide(ends);
    eprintln!("{name}: {frac} of the runs end in the wide valley (mean end point {mean})");
    assert!(
        frac >= 0.8,
        "{name}: only {frac} of the runs end in the wide valley: {ends:?}"
    );
    assert!(
        (mean - 1.5).abs() < tol_mean,
        "{name}: mean end point {mean}"
    );
}

#[test]
fn entropy_sgd_ends_in_the_wide_valley() {
    // Scoped γ from 2 (F_γ has a single minimum, near the wide one) down to 0.1, thermal noise
    // β⁻¹ = 1 (the chain samples q_{x,γ}), scaled outer step (003 §3.2.3).
    let ends = run(
        |s| {
            EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    Schedule::geometric(2.0, 0.98).clipped(0.1, 10.0),
                    ExponentialSgld::new(50)
                        .averaging(Averaging::new_sample_weight(0.1))
                        .langevin_step(0.12)
                        .thermal_noise(1.0),
                )
                .scaled(true),
                0.5,
            )
            .seed(s)
        },
        400,
    );
    assert_mostly_wide("Entropy-SGD", &ends, 0.3);
}

#[test]
fn hamilton_jacobi_ends_in_the_wide_valley() {
    let ends = run(
        |s| HamiltonJacobi::with_oracle(HopfLaxGradient::new(0.5, 5).inner_step(0.2), 0.1).seed(s),
        500,
    );
    assert_mostly_wide("HJ", &ends, 1e-3);
}

#[test]
fn parle_ends_in_the_wide_valley() {
    let ends = run(
        |s| {
            Parle::with_oracle(
                4,
                LocalEntropyGradient::with_estimator(
                    Schedule::geometric(2.0, 0.98).clipped(0.1, 10.0),
                    ExponentialSgld::new(50)
                        .langevin_step(0.12)
                        .thermal_noise(1.0)
                        .averaging(Averaging::new_sample_weight(0.1)),
                )
                .scaled(true),
                Schedule::geometric(1.0, 0.98).clipped(0.5, 10.0),
                0.5,
            )
            .seed(s)
        },
        400,
    );
    assert_mostly_wide("Parle", &ends, 0.3);
}

#[test]
fn exact_local_entropy_prefers_the_wide_valley_at_that_scope() {
    // The reason: at γ = 2 the exact F_γ (000 eq. 2) decreases from the sharp minimum towards the
    // wide one, and its minimizer is near 1.5; at γ → 0 it is f, whose global minimum is sharp.
    let f = landscape();
    let grid: Vec<f64> = (0..=800).map(|i| -4.0 + i as f64 * 0.01).collect();
    let argmin = |tau: f64| {
        *grid
            .iter()
            .min_by(|a, b| {
                f.local_entropy(&dvector![**a], tau)
                    .total_cmp(&f.local_entropy(&dvector![**b], tau))
            })
            .unwrap()
    };
    assert!((argmin(2.0) - 1.5).abs() < 0.5);
    assert!((argmin(1e-6) + 2.0).abs() < 0.02);
    for x in [-2.5, -2.0, -1.5] {
        assert!(
            f.local_entropy_gradient(&dvector![x], 2.0)[0] < 0.0,
            "F_2 not decreasing at {x}"
        );
    }
}
