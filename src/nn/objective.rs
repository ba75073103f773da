//! The MLP's training loss as a crate objective ([`Cost`] + [`Gradient`]): mean softmax
//! cross-entropy on a minibatch drawn by the algorithm (000 §6.2, minibatch 20; 004 §5.2).

use super::mean_gradient::{PointScratch, Stacks};
use super::mlp::{Evaluation, Mlp};
use super::pass;
use super::workspace::{self, Dropout, Workspace, DEFAULT_CHUNK};
use crate::data::{batches, Dataset};
use crate::objective::{Batch, Cost, GaussianWeightedMean, Gradient, MeanGradient, Parallelism};
use crate::rng::{self, Prng};
use crate::{Error, Real, Result};
use nalgebra::DVector;
use std::sync::{Arc, Mutex};

/// f(x) = mean over a minibatch of the MLP's softmax cross-entropy, with parameters x the flat
/// vector of [`Mlp`] — the loss every scheme and optimizer of the crate minimizes on MNIST
/// (000 §6, 004 §5.2, 003 Tables 3.1, 4.1, 5.1).
///
/// - [`Batch::Indices`]: the mean over those examples of the dataset;
///   [`Batch::Full`]: the mean over this objective's whole index set (the training set, or a
///   shard for a Parle replica, 003 §5.5).
/// - [`Cost::draw_batch`] draws `batch_size` distinct indices uniformly from the index set.
/// - Dropout (if the [`Mlp`] has it) needs randomness inside a `&self` call: the mask is drawn
///   from [`rng::stream`]`(dropout_seed, hash(batch indices))`, so it is a fixed function of the
///   minibatch — the same for `cost`, `gradient` and `cost_and_gradient` on one batch, fresh for
///   every new batch, and independent of threads. [`MlpObjective::evaluate`] never uses dropout.
///   Consequence: an algorithm that reuses one batch (e.g. full-batch descent with `Batch::Full`)
///   sees one fixed mask; change [`MlpObjective::with_dropout_seed`] between steps to resample it.
/// - `Sync`: concurrent calls (estimators evaluate samples in parallel) each take a workspace from
///   a pool, so calls allocate nothing once the pool holds one workspace per thread.
/// - Bad input inside the trait methods (which cannot return errors): a parameter vector of the
///   wrong length, an empty batch or an index out of range yields NaN (and a NaN-filled gradient),
///   which every algorithm reports as [`Error::NonFinite`].
pub struct MlpObjective<T: Real> {
    pub(super) mlp: Mlp,
    pub(super) data: Arc<Dataset<T>>,
    indices: Vec<usize>,
    batch_size: usize,
    dropout_seed: u64,
    pub(super) chunk: usize,
    pool: Mutex<Vec<Workspace<T>>>,
    /// Scratch of [`MeanGradient`](crate::objective::MeanGradient): one per concurrent call,
    /// and one per point evaluated at once.
    pub(super) stacks: Mutex<Vec<Stacks<T>>>,
    pub(super) points: Mutex<Vec<PointScratch<T>>>,
}

impl<T: Real> Clone for MlpObjective<T> {
    fn clone(&self) -> Self {
        Self {
            mlp: self.mlp.clone(),
            data: Arc::clone(&self.data),
            indices: self.indices.clone(),
            batch_size: self.batch_size,
            dropout_seed: self.dropout_seed,
            chunk: self.chunk,
            pool: Mutex::new(Vec::new()),
            stacks: Mutex::new(Vec::new()),
            points: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Real> std::fmt::Debug for MlpObjective<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlpObjective")
            .field("mlp", &self.mlp)
            .field("examples", &self.indices.len())
            .field("batch_size", &self.batch_size)
            .field("dropout_seed", &self.dropout_seed)
            .finish()
    }
}

/// SplitMix64 finalizer: a cheap, well-mixing hash step for the dropout key.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<T: Real> MlpObjective<T> {
    /// The loss of `mlp` on `data` (all its examples), with minibatches of `batch_size`.
    ///
    /// Errors: [`Error::DimensionMismatch`] if the data's features or classes differ from the
    /// network's input or output size; [`Error::InvalidHyperParameter`] if `batch_size` is 0 or
    /// larger than the dataset.
    pub fn new(mlp: Mlp, data: Arc<Dataset<T>>, batch_size: usize) -> Result<Self> {
        pass::check_data(&mlp, &data)?;
        let indices = (0..data.len()).collect();
        Self::with_parts(mlp, data, indices, batch_size)
    }

    fn with_parts(
        mlp: Mlp,
        data: Arc<Dataset<T>>,
        indices: Vec<usize>,
        batch_size: usize,
    ) -> Result<Self> {
        crate::error::check::count("batch_size", batch_size)?;
        if indices.is_empty() {
            return Err(Error::InvalidHyperParameter {
                name: "indices",
                value: 0.0,
                reason: "must hold at least one example index (the set is empty)",
            });
        }
        if batch_size > indices.len() {
            return Err(Error::InvalidHyperParameter {
                name: "batch_size",
                value: batch_size as f64,
                reason: "must be at most the number of examples in the index set",
            });
        }
        if let Some(&i) = indices.iter().find(|&&i| i >= data.len()) {
            return Err(Error::Data {
                path: "(in-memory dataset)".into(),
                problem: format!("index {i} out of range (n = {})", data.len()),
            });
        }
        Ok(Self {
            mlp,
            data,
            indices,
            batch_size,
            dropout_seed: 0,
            chunk: DEFAULT_CHUNK,
            pool: Mutex::new(Vec::new()),
            stacks: Mutex::new(Vec::new()),
            points: Mutex::new(Vec::new()),
        })
    }

    /// Restricts the objective to the examples `indices` (its index set: what `Batch::Full`
    /// means and what `draw_batch` samples from).
    ///
    /// Errors: as [`MlpObjective::new`], and [`Error::Data`] if an index is out of range.
    pub fn with_indices(self, indices: Vec<usize>) -> Result<Self> {
        let mut s = Self::with_parts(self.mlp, self.data, indices, self.batch_size)?;
        s.dropout_seed = self.dropout_seed;
        s.chunk = self.chunk;
        Ok(s)
    }

    /// Restricts the objective to shard `i` of `n` of [`shards`](crate::data::shards)`(len, n,
    /// seed)`: Parle's replicas with the data split between them (003 §5.5). The shards of one
    /// seed are disjoint and cover the dataset.
    ///
    /// Errors: [`Error::InvalidHyperParameter`] if `n` is 0, exceeds the dataset, or `i >= n`;
    /// as [`MlpObjective::with_indices`].
    pub fn shard(self, i: usize, n: usize, seed: u64) -> Result<Self> {
        let mut all = batches::shards(self.data.len(), n, seed)?;
        if i >= n {
            return Err(Error::InvalidHyperParameter {
                name: "shard",
                value: i as f64,
                reason: "must be less than the number of shards n (shards are numbered 0..n)",
            });
        }
        let mine = std::mem::take(&mut all[i]);
        self.with_indices(mine)
    }

    /// Changes the minibatch size drawn by [`Cost::draw_batch`] (000 §6.2 uses 20; Entropy-SGD's
    /// experiments 128, 004 §5).
    ///
    /// Errors: [`Error::InvalidHyperParameter`] if `batch_size` is 0 or exceeds the index set.
    pub fn with_batch_size(mut self, batch_size: usize) -> Result<Self> {
        crate::error::check::count("batch_size", batch_size)?;
        if batch_size > self.indices.len() {
            return Err(Error::InvalidHyperParameter {
                name: "batch_size",
                value: batch_size as f64,
                reason: "must be at most the number of examples in the index set",
            });
        }
        self.batch_size = batch_size;
        Ok(self)
    }

    /// Sets the seed of the dropout masks (default 0); two objectives with different seeds drop
    /// different units on the same minibatch.
    pub fn with_dropout_seed(mut self, seed: u64) -> Self {
        self.dropout_seed = seed;
        self
    }

    /// Sets the largest number of examples pushed through the network at once (default 1024):
    /// bounds each workspace's memory on large batches.
    ///
    /// Errors: [`Error::InvalidHyperParameter`] if `chunk` is 0.
    pub fn with_chunk(mut self, chunk: usize) -> Result<Self> {
        self.chunk = crate::error::check::count("chunk", chunk)?;
        Ok(self)
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The dataset (shared).
    pub fn data(&self) -> &Arc<Dataset<T>> {
        &self.data
    }

    /// The index set (all examples, or a shard).
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// Minibatch size drawn by [`Cost::draw_batch`].
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Seeded initial parameters (see [`Mlp::init`]).
    pub fn init(&self, rng: &mut Prng) -> DVector<T> {
        self.mlp.init(rng)
    }

    /// Loss and accuracy on `data` (all examples, or `indices`), without dropout, reusing this
    /// objective's workspaces — for reporting, e.g. 000 §6.2's accuracy on 1000 random held-out
    /// test images (draw them with [`sample_without_replacement`](crate::data::sample_without_replacement)).
    ///
    /// Errors: as [`Mlp::evaluate`].
    pub fn evaluate(
        &self,
        x: &DVector<T>,
        data: &Dataset<T>,
        indices: Option<&[usize]>,
    ) -> Result<Evaluation> {
        let mut ws = self.take_workspace();
        let r = pass::evaluate(&self.mlp, &mut ws, x, data, indices, self.chunk);
        self.return_workspace(ws);
        r
    }

    /// Loss and accuracy on the first `n` examples of `data` (all if `n ≥ data.len()`), without
    /// dropout — a fixed, cheap held-out check during training.
    ///
    /// Errors: [`Error::InvalidHyperParameter`] if `n` is 0; as [`Mlp::evaluate`].
    pub fn evaluate_first(
        &self,
        x: &DVector<T>,
        data: &Dataset<T>,
        n: usize,
    ) -> Result<Evaluation> {
        crate::error::check::count("n", n)?;
        let idx: Vec<usize> = (0..n.min(data.len())).collect();
        self.evaluate(x, data, Some(&idx))
    }

    /// Loss and accuracy on `n` distinct examples of `data` drawn uniformly with `rng`, without
    /// dropout: 000 §6.2 reports accuracy "by classifying 1000 randomly-selected images from the
    /// held-out MNIST test set". `n ≥ data.len()` evaluates every example.
    ///
    /// Errors: [`Error::InvalidHyperParameter`] if `n` is 0; as [`Mlp::evaluate`].
    pub fn evaluate_random(
        &self,
        x: &DVector<T>,
        data: &Dataset<T>,
        n: usize,
        rng: &mut Prng,
    ) -> Result<Evaluation> {
        crate::error::check::count("n", n)?;
        let all: Vec<usize> = (0..data.len()).collect();
        let mut pick = Vec::with_capacity(n.min(all.len()));
        batches::sample_without_replacement(rng, &all, n, &mut pick);
        self.evaluate(x, data, Some(&pick))
    }

    fn take_workspace(&self) -> Workspace<T> {
        workspace::take(&self.pool, || Workspace::new(&self.mlp))
    }

    fn return_workspace(&self, ws: Workspace<T>) {
        workspace::give(&self.pool, ws)
    }

    /// The dropout generator of a call on `idx`: a fixed function of (seed, indices).
    pub(super) fn dropout_rng(&self, idx: &[usize]) -> Option<Prng> {
        if self.mlp.dropout() == 0.0 {
            return None;
        }
        let mut h = mix(idx.len() as u64);
        for &i in idx {
            h = mix(h ^ i as u64);
        }
        Some(rng::stream(self.dropout_seed, h))
    }

    /// The common path of `cost`, `gradient`, `gradient_with`, `cost_and_gradient`, with the
    /// caller's hint `par` about the threads around the call (which products may split). NaN on
    /// bad input.
    pub(super) fn pass(
        &self,
        x: &DVector<T>,
        batch: &Batch,
        grad: Option<&mut DVector<T>>,
        par: Parallelism,
    ) -> T {
        let nan = T::lit(f64::NAN);
        let idx = batch.indices().unwrap_or(&self.indices);
        let bad = x.len() != self.mlp.num_params()
            || idx.is_empty()
            || grad
                .as_ref()
                .is_some_and(|g| g.len() != self.mlp.num_params());
        if bad {
            if let Some(g) = grad {
                g.fill(nan);
            }
            return nan;
        }
        let mut drng = self.dropout_rng(idx);
        let mut dropout = drng.as_mut().map(|r| Dropout::new(r, self.mlp.dropout()));
        let mut ws = self.take_workspace();
        let mut grad = grad;
        let r = pass::run(
            &self.mlp,
            &mut ws,
            x.as_slice(),
            &self.data,
            idx,
            self.chunk,
            dropout.as_mut(),
            grad.as_deref_mut().map(|g| g.as_mut_slice()),
            par,
        );
        self.return_workspace(ws);
        match r {
            Some((loss, _)) => T::lit(loss / idx.len() as f64),
            None => {
                if let Some(g) = grad {
                    g.fill(nan);
                }
                nan
            }
        }
    }
}

impl<T: Real> Cost<T> for MlpObjective<T> {
    fn dim(&self) -> usize {
        self.mlp.num_params()
    }

    fn cost(&self, x: &DVector<T>, batch: &Batch) -> T {
        self.pass(x, batch, None, Parallelism::Unknown)
    }

    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        let out = batch.indices_mut();
        batches::sample_without_replacement(rng, &self.indices, self.batch_size, out);
    }

    /// Importance sampling with the first layer's noise drawn through its product with the
    /// minibatch (see [`GaussianWeightedMean`]).
    fn as_gaussian_weighted_mean(&self) -> Option<&dyn GaussianWeightedMean<T>> {
        Some(self)
    }
}

impl<T: Real> Gradient<T> for MlpObjective<T> {
    fn gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) {
        self.pass(x, batch, Some(grad), Parallelism::Unknown);
    }

    /// The gradient with its large matrix products split in two under `rayon::join` where `par`
    /// allows it ([`Parallelism::IdleThreadBeside`], or a call from outside rayon's pool; never
    /// under [`Parallelism::AllThreadsBusy`]): the same bits either way.
    fn gradient_with(
        &self,
        x: &DVector<T>,
        batch: &Batch,
        grad: &mut DVector<T>,
        par: Parallelism,
    ) {
        self.pass(x, batch, Some(grad), par);
    }

    fn cost_and_gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) -> T {
        self.pass(x, batch, Some(grad), Parallelism::Unknown)
    }

    /// Robbins–Monro's M gradients as stacked products (see [`MeanGradient`]).
    fn as_mean_gradient(&self) -> Option<&dyn MeanGradient<T>> {
        Some(self)
    }
}
