//! Shared fixtures of the reliability tests (included with `#[path]`; alone it has no tests):
//! a stochastic least-squares loss that can be made hostile (NaN / ±∞ after a given number of
//! calls), and the table of every scheme and optimizer behind one object-safe [`Runner`].
#![allow(dead_code)]

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use wide_valleys::objective::{Batch, Cost, Gradient};
use wide_valleys::optim::*;
use wide_valleys::sampling::Averaging;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::ImportanceSampling;
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum};
use wide_valleys::Optimizer;
use wide_valleys::{checkpoint, rng, HeatRegularization, LocalEntropy, Prng, Result};

pub const D: usize = 6;

/// ½·mean (aᵢᵀx − yᵢ)² on random minibatches of 8 of 64 rows; every cost or gradient call with
/// index (0-based, counted together) in `fail_from..` returns `poison` (NaN or ±∞).
pub struct Hostile {
    rows: DMatrix<f64>,
    targets: DVector<f64>,
    calls: AtomicUsize,
    fail_from: AtomicUsize,
    poison: AtomicU64,
}

impl Hostile {
    pub fn new(seed: u64) -> Self {
        let mut r = rng::seeded(seed);
        let rows = DMatrix::from_fn(64, D, |_, _| r.random_range(-1.0..1.0));
        let truth = DVector::from_fn(D, |_, _| r.random_range(-1.0..1.0));
        let targets = &rows * truth + DVector::from_fn(64, |_, _| 0.1 * r.random_range(-1.0..1.0));
        Self {
            rows,
            targets,
            calls: AtomicUsize::new(0),
            fail_from: AtomicUsize::new(usize::MAX),
            poison: AtomicU64::new(f64::NAN.to_bits()),
        }
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    /// Poisons every call from the `after`-th from now on.
    pub fn poison_after(&self, after: usize, value: f64) {
        self.poison.store(value.to_bits(), Ordering::SeqCst);
        self.fail_from.store(self.calls() + after, Ordering::SeqCst);
    }
    pub fn heal(&self) {
        self.fail_from.store(usize::MAX, Ordering::SeqCst);
    }
    fn poisoned(&self) -> Option<f64> {
        let c = self.calls.fetch_add(1, Ordering::SeqCst);
        (c >= self.fail_from.load(Ordering::SeqCst))
            .then(|| f64::from_bits(self.poison.load(Ordering::SeqCst)))
    }
    fn each<'a>(&'a self, batch: &'a Batch) -> Box<dyn Iterator<Item = usize> + 'a> {
        match batch.indices() {
            None => Box::new(0..self.rows.nrows()),
            Some(ix) => Box::new(ix.iter().copied()),
        }
    }
}

impl Cost<f64> for Hostile {
    fn dim(&self) -> usize {
        D
    }
    fn cost(&self, x: &DVector<f64>, batch: &Batch) -> f64 {
        if let Some(p) = self.poisoned() {
            return p;
        }
        let (mut s, mut c) = (0.0, 0.0);
        for i in self.each(batch) {
            let e = self.rows.row(i).transpose().dot(x) - self.targets[i];
            s += 0.5 * e * e;
            c += 1.0;
        }
        s / c
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        let v = batch.indices_mut();
        for _ in 0..8 {
            v.push(rng.random_range(0..64));
        }
    }
}

impl Gradient<f64> for Hostile {
    fn gradient(&self, x: &DVector<f64>, batch: &Batch, grad: &mut DVector<f64>) {
        let p = self.poisoned();
        grad.fill(0.0);
        let mut c = 0.0;
        for i in self.each(batch) {
            let row = self.rows.row(i).transpose();
            let e = row.dot(x) - self.targets[i];
            grad.axpy(e, &row, 1.0);
            c += 1.0;
        }
        *grad /= c;
        if let Some(p) = p {
            grad[0] = p;
        }
    }
}

pub fn start(seed: u64) -> DVector<f64> {
    let mut r = rng::seeded(seed);
    DVector::from_fn(D, |_, _| r.random_range(-2.0..2.0))
}

/// Any optimizer (two-step schemes included), object-safe, with its checkpoint.
pub trait Runner: Send {
    fn name(&self) -> &str;
    fn step(&mut self, x: &mut DVector<f64>, loss: &Hostile) -> Result<()>;
    /// The full serialized state (what a checkpoint holds).
    fn state(&self) -> String;
    fn save(&self, path: &Path, x: &DVector<f64>) -> Result<()>;
    /// Replaces this runner's state by the checkpoint's; returns the checkpoint's x.
    fn restore(&mut self, path: &Path) -> Result<DVector<f64>>;
    fn boxed_clone(&self) -> Box<dyn Runner>;
}

pub struct Opt<S>(pub &'static str, pub S);

impl<S> Runner for Opt<S>
where
    S: Optimizer<f64, Hostile> + Serialize + DeserializeOwned + Clone + Send + 'static,
{
    fn name(&self) -> &str {
        self.0
    }
    fn step(&mut self, x: &mut DVector<f64>, loss: &Hostile) -> Result<()> {
        self.1.step(x, loss).map(|_| ())
    }
    fn state(&self) -> String {
        serde_json::to_string(&self.1).unwrap()
    }
    fn save(&self, path: &Path, x: &DVector<f64>) -> Result<()> {
        checkpoint::save(path, &(x, &self.1))
    }
    fn restore(&mut self, path: &Path) -> Result<DVector<f64>> {
        let (x, s): (DVector<f64>, S) = checkpoint::load(path)?;
        self.1 = s;
        Ok(x)
    }
    fn boxed_clone(&self) -> Box<dyn Runner> {
        Box::new(Opt(self.0, self.1.clone()))
    }
}

/// Every scheme and optimizer of the crate, small settings, seeded with `seed`.
pub fn all(seed: u64) -> Vec<Box<dyn Runner>> {
    vec![
        Box::new(Opt("LocalEntropy+SGLD", LocalEntropy::new(0.5).seed(seed))),
        Box::new(Opt(
            "LocalEntropy+IS",
            LocalEntropy::new(0.5)
                .estimator(ImportanceSampling::new(64))
                .seed(seed),
        )),
        Box::new(Opt(
            "HeatRegularization+RM",
            HeatRegularization::new(0.5).seed(seed),
        )),
        Box::new(Opt("GradientDescent", GradientDescent::new(0.1).seed(seed))),
        Box::new(Opt(
            "EntropySgd",
            EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    0.5,
                    ExponentialSgld::new(10)
                        .averaging(Averaging::new_sample_weight(0.1))
                        .thermal_noise(1e-3),
                ),
                0.2,
            )
            .seed(seed),
        )),
        Box::new(Opt(
            "EntropySgd+Nesterov",
            EntropySgd::new(wide_valleys::Schedule::eq18(0.5, 0.01), 10, 0.1)
                .with_rule(Momentum::nesterov(0.9))
                .seed(seed),
        )),
        Box::new(Opt(
            "EntropyAdam",
            EntropySgd::new(0.5, 10, 0.05)
                .with_rule(Adam::standard())
                .seed(seed),
        )),
        Box::new(Opt(
            "HamiltonJacobi",
            HamiltonJacobi::new(0.5, 5, 0.2).seed(seed),
        )),
        Box::new(Opt("Heat", Heat::new(0.05, 8, 0.1).seed(seed))),
        Box::new(Opt("Sam", Sam::new(0.05, 0.1).seed(seed))),
        Box::new(Opt(
            "TrivializedSgd",
            TrivializedSgd::new(0.1, 3, D, 20.0, 0.1).seed(seed),
        )),
        Box::new(Opt("Parle", Parle::new(3, 0.5, 1.0, 5, 0.2).seed(seed))),
        Box::new(Opt(
            "Parle+Nesterov",
            Parle::new(2, 0.5, f64::INFINITY, 5, 0.1)
                .with_rule(Momentum::nesterov(0.9))
                .seed(seed),
        )),
        Box::new(Opt(
            "ElasticSgd",
            ElasticSgd::elastic(3, 1.0, 0.1).seed(seed),
        )),
    ]
}

/// Bit patterns of a vector (NaN-safe exact comparison).
pub fn bits(x: &DVector<f64>) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// A fresh, unique temporary directory for one test.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "wv-rel-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
