//! The algorithm decides when a fresh minibatch is drawn (000 §5.1.1, §5.1.2, Alg. 5): SGLD once
//! per Langevin step, importance sampling once per estimate (all samples on it), Robbins–Monro
//! once per gradient sample, quadrature never (it integrates the full loss).

use nalgebra::{dvector, DVector};
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use wide_valleys::kl::{GaussianExpectation, RobbinsMonro};
use wide_valleys::sampling::{ImportanceSampling, Quadrature, Sgld};
use wide_valleys::{Batch, Cost, Gradient, HeatRegularization, LocalEntropy, Prng};

/// f(y) = (1/n) Σ_{i ∈ batch} ½(y − aᵢ)², with aᵢ = i/(N−1) − 1/2 on N = 10 "examples".
/// Counts draws and records which batches the cost was evaluated on.
struct Data {
    draws: AtomicUsize,
    seen: Mutex<Vec<Vec<usize>>>,
}

const N: usize = 10;

fn a(i: usize) -> f64 {
    i as f64 / (N - 1) as f64 - 0.5
}

impl Data {
    fn new() -> Self {
        Self {
            draws: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        }
    }
    fn idx(b: &Batch) -> Vec<usize> {
        b.indices()
            .map(|v| v.to_vec())
            .unwrap_or_else(|| (0..N).collect())
    }
}

impl Cost<f64> for Data {
    fn dim(&self) -> usize {
        1
    }
    fn cost(&self, y: &DVector<f64>, b: &Batch) -> f64 {
        let idx = Self::idx(b);
        self.seen.lock().unwrap().push(idx.clone());
        idx.iter()
            .map(|&i| 0.5 * (y[0] - a(i)).powi(2))
            .sum::<f64>()
            / idx.len() as f64
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        self.draws.fetch_add(1, Ordering::SeqCst);
        let v = batch.indices_mut();
        for _ in 0..3 {
            v.push(rng.random_range(0..N));
        }
    }
}

impl Gradient<f64> for Data {
    fn gradient(&self, y: &DVector<f64>, b: &Batch, g: &mut DVector<f64>) {
        let idx = Self::idx(b);
        g[0] = idx.iter().map(|&i| y[0] - a(i)).sum::<f64>() / idx.len() as f64;
    }
}

#[test]
fn sgld_draws_one_minibatch_per_langevin_step() {
    let data = Data::new();
    let mut s = LocalEntropy::new(0.1).estimator(Sgld::paper().samples(50).burn_in(7));
    let r = s.step(&mut dvector![0.3], &data).unwrap();
    assert_eq!(data.draws.load(Ordering::SeqCst), 57);
    assert_eq!(r.gradient_evaluations, 57);
}

#[test]
fn importance_sampling_evaluates_all_samples_on_one_minibatch() {
    let data = Data::new();
    let mut s = LocalEntropy::new(0.1).estimator(ImportanceSampling::new(64));
    s.step(&mut dvector![0.3], &data).unwrap();
    assert_eq!(data.draws.load(Ordering::SeqCst), 1);
    let seen = data.seen.lock().unwrap();
    assert_eq!(seen.len(), 64);
    assert!(seen.iter().all(|b| *b == seen[0] && b.len() == 3));
}

#[test]
fn robbins_monro_draws_one_minibatch_per_gradient_sample_and_quadrature_none() {
    let data = Data::new();
    let mut h = HeatRegularization::new(0.1).solver(RobbinsMonro::paper().samples(4).iterations(5));
    h.step(&mut dvector![0.3], &data).unwrap();
    assert_eq!(data.draws.load(Ordering::SeqCst), 20);
    let exact = Data::new();
    let mut hq = HeatRegularization::new(0.1).solver(
        RobbinsMonro::paper()
            .expectation(GaussianExpectation::Quadrature(Quadrature::new(21, 8.0))),
    );
    hq.step(&mut dvector![0.3], &exact).unwrap();
    let mut lq = LocalEntropy::new(0.1).estimator(Quadrature::new(21, 8.0));
    lq.step(&mut dvector![0.3], &exact).unwrap();
    assert_eq!(exact.draws.load(Ordering::SeqCst), 0);
    assert!(exact.seen.lock().unwrap().iter().all(|b| b.len() == N));
}
