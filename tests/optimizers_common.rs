//! Shared fixtures of the optimizer tests (included with `#[path]` by the other
//! `optimizers_*.rs` files; compiled alone it has no tests).
#![allow(dead_code)]

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use wide_valleys::objective::{Batch, Cost, Gradient};
use wide_valleys::objectives::Quadratic;
use wide_valleys::{rng, Prng};

/// A strongly convex quadratic in dimension d: A = BᵀB/d + I (eigenvalues in [1, ~5]), b random.
pub fn quadratic(d: usize, seed: u64) -> Quadratic<f64> {
    let mut r = rng::seeded(seed);
    let b_mat = DMatrix::from_fn(d, d, |_, _| r.random_range(-1.0..1.0) * 1.7);
    let a = b_mat.transpose() * &b_mat / d as f64 + DMatrix::identity(d, d);
    let b = DVector::from_fn(d, |_, _| r.random_range(-1.0..1.0));
    Quadratic::new(a, b).unwrap()
}

pub fn start(d: usize, seed: u64) -> DVector<f64> {
    let mut r = rng::seeded(seed);
    DVector::from_fn(d, |_, _| r.random_range(-2.0..2.0))
}

/// Least squares ½·mean_i (aᵢᵀx − yᵢ)² over rows, evaluated on random minibatches of `batch`
/// rows: a genuinely stochastic loss, so minibatch draws are part of every comparison.
pub struct LeastSquares {
    pub rows: DMatrix<f64>,
    pub targets: DVector<f64>,
    pub batch: usize,
}

impl LeastSquares {
    pub fn new(n: usize, d: usize, batch: usize, seed: u64) -> Self {
        let mut r = rng::seeded(seed);
        let rows = DMatrix::from_fn(n, d, |_, _| r.random_range(-1.0..1.0));
        let truth = DVector::from_fn(d, |_, _| r.random_range(-1.0..1.0));
        let targets = &rows * truth + DVector::from_fn(n, |_, _| 0.1 * r.random_range(-1.0..1.0));
        Self {
            rows,
            targets,
            batch,
        }
    }
    fn each<'a>(&'a self, batch: &'a Batch) -> Box<dyn Iterator<Item = usize> + 'a> {
        match batch.indices() {
            None => Box::new(0..self.rows.nrows()),
            Some(ix) => Box::new(ix.iter().copied()),
        }
    }
}

impl Cost<f64> for LeastSquares {
    fn dim(&self) -> usize {
        self.rows.ncols()
    }
    fn cost(&self, x: &DVector<f64>, batch: &Batch) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        for i in self.each(batch) {
            let e = self.rows.row(i).transpose().dot(x) - self.targets[i];
            s += 0.5 * e * e;
            c += 1.0;
        }
        s / c
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        let n = self.rows.nrows();
        let v = batch.indices_mut();
        for _ in 0..self.batch {
            v.push(rng.random_range(0..n));
        }
    }
}

impl Gradient<f64> for LeastSquares {
    fn gradient(&self, x: &DVector<f64>, batch: &Batch, grad: &mut DVector<f64>) {
        grad.fill(0.0);
        let mut c = 0.0;
        for i in self.each(batch) {
            let row = self.rows.row(i).transpose();
            let e = row.dot(x) - self.targets[i];
            grad.axpy(e, &row, 1.0);
            c += 1.0;
        }
        *grad /= c;
    }
}

/// Wraps a loss so that gradient calls number `fail_from..fail_until` (0-based) return NaN.
pub struct Flaky<L> {
    pub inner: L,
    pub calls: AtomicUsize,
    pub fail_from: usize,
    pub fail_until: usize,
}

impl<L> Flaky<L> {
    pub fn new(inner: L, fail_from: usize, fail_until: usize) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            fail_from,
            fail_until,
        }
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl<L: Cost<f64>> Cost<f64> for Flaky<L> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    /// Loss values count (and fail) like gradients, for the gradient-free schemes.
    fn cost(&self, x: &DVector<f64>, batch: &Batch) -> f64 {
        let c = self.calls.fetch_add(1, Ordering::SeqCst);
        let v = self.inner.cost(x, batch);
        if c >= self.fail_from && c < self.fail_until {
            f64::NAN
        } else {
            v
        }
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        self.inner.draw_batch(rng, batch)
    }
}

impl<L: Gradient<f64>> Gradient<f64> for Flaky<L> {
    fn gradient(&self, x: &DVector<f64>, batch: &Batch, grad: &mut DVector<f64>) {
        let c = self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.gradient(x, batch, grad);
        if c >= self.fail_from && c < self.fail_until {
            grad[0] = f64::NAN;
        }
    }
}
