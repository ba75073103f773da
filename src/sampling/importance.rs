//! Self-normalised importance sampling of E_{q_{x,τ}}\[Y\] with proposal φ_{x,τ} (000 Alg. 4,
//! eq. 16): gradient-free, parallel over samples, bit-identical for any number of threads.

use super::{LogSum, MeanEstimator};
use crate::error::{check, site};
use crate::kernels;
use crate::objective::{Batch, Cost, NoiseStream};
use crate::rng::{self, Prng};
use crate::{Error, Real, Report, Result};
use nalgebra::DVector;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Default number of chunks the J samples are split into (fixed, independent of the thread count).
const DEFAULT_CHUNKS: usize = 16;

/// The first of the `j_total` samples in chunk `c` of `n`: ⌊c·J/n⌋, without overflow for any J.
fn chunk_start(c: usize, j_total: usize, n: usize) -> usize {
    (c as u128 * j_total as u128 / n as u128) as usize
}

/// Importance sampling estimator (000 Alg. 4): y_j ~ φ_{x,τ}, w_j = e^{−f(y_j)},
/// E_q\[Y\] ≈ Σ w_j y_j / Σ w_j (eq. 16).
///
/// - Weights are accumulated in log space with a running maximum, so the estimate stays exact when
///   f is of order 10⁴ (where e^{−f} underflows).
/// - One minibatch is drawn per estimate and all J samples are evaluated on it (000 §5.1.2; this
///   is the bias the paper mentions).
/// - Memory O(d) per chunk: samples are streamed, never stored. Each chunk sums its w_j·y_j in T
///   (at most ⌈J/chunks⌉ terms, weights ≤ 1 relative to the chunk's running maximum); the chunks
///   are merged in `f64`.
/// - Parallel (rayon) over a fixed number of chunks; sample j's noise comes from
///   [`NoiseStream::sample`]`(j)` of a fresh [`NoiseStream`] per estimate, and chunks are merged
///   in order, so the
///   result is bit-identical for any thread count (it does depend on the chunk count).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct ImportanceSampling<T: Real> {
    samples: usize,
    chunks: usize,
    #[serde(default)]
    projected: bool,
    #[serde(skip)]
    scratch: Vec<Chunk<T>>,
    #[serde(skip)]
    batch: Batch,
}

#[derive(Clone, Debug)]
struct Chunk<T: Real> {
    y: DVector<T>,
    sy: Vec<T>,
    ls: LogSum,
    scale: f64,
}

impl<T: Real> Default for ImportanceSampling<T> {
    /// J = 1000 samples (000 §6.2), 16 chunks.
    fn default() -> Self {
        Self::new(1000)
    }
}

impl<T: Real> ImportanceSampling<T> {
    /// J = `samples` Gaussian draws per estimate (≥ 1; checked when used), 16 chunks.
    pub fn new(samples: usize) -> Self {
        Self {
            samples,
            chunks: DEFAULT_CHUNKS,
            projected: false,
            scratch: Vec::new(),
            batch: Batch::Full,
        }
    }

    /// Number of chunks the samples are split into (≥ 1; the effective count is min(chunks, J)).
    /// The result depends on it (summation order), never on the number of threads.
    pub fn chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
    }

    /// Draw less noise where the objective can, with the same law (default false): objectives
    /// with a [`GaussianWeightedMean`](crate::GaussianWeightedMean) path evaluate each sample from part of its noise — the
    /// MLP ([`MlpObjective`](crate::nn::MlpObjective)) draws its first layer's perturbation only
    /// through its product with the minibatch, 6 010 instead of 159 010 variates per sample on
    /// 784 → 200 → 10 at minibatch 20, and the part of the weighted sum that the weights never
    /// see as one Gaussian draw (`src/nn/weighted_mean.rs`). Other objectives, and minibatches
    /// where that does not apply, draw whole samples as without it (the same bits). The
    /// estimate's numbers differ from the default's for the same seed; their distribution does
    /// not.
    pub fn projected(mut self, on: bool) -> Self {
        self.projected = on;
        self
    }

    /// Number J of samples.
    pub fn sample_count(&self) -> usize {
        self.samples
    }

    /// Checks samples ≥ 1 and chunks ≥ 1.
    pub fn validate(&self) -> Result<()> {
        check::count("samples", self.samples)?;
        check::count("chunks", self.chunks)?;
        Ok(())
    }
}

impl<T: Real, O: Cost<T> + ?Sized> MeanEstimator<T, O> for ImportanceSampling<T> {
    fn validate(&self) -> Result<()> {
        ImportanceSampling::validate(self)
    }

    fn estimate(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        mean: &mut DVector<T>,
    ) -> Result<Report> {
        // Lengths first: the loss never sees a wrong-length x, and `mean` is never overrun.
        check::dim_and_output(loss.dim(), x.len(), "mean", mean.len())?;
        Self::validate(self)?;
        let d = check::tau_and_dim(tau, loss.dim(), x.len())?;
        let j_total = self.samples;
        let n = self.chunks.min(j_total);
        loss.draw_batch(rng, &mut self.batch);
        // One fresh family of streams per estimate: sample j draws from `noise.sample(j)`.
        let noise = NoiseStream::new(rng::fork_key(rng), 0);
        let sqrt_tau = tau.sqrt();
        // The ESS and F̂_τ(x) = −log((1/J) Σ_j e^{−f(y_j)}) (000 eq. 2) from the weights' sums.
        let diagnostics = |m: f64, s: f64, s2: f64| Report {
            ess: Some(s * s / s2),
            loss: Some(-(m + s.ln() - (j_total as f64).ln())),
            ..Report::default()
        };
        if let Some(p) = loss.as_gaussian_weighted_mean().filter(|_| self.projected) {
            if let Some(r) =
                p.gaussian_weighted_mean(x, sqrt_tau, &self.batch, j_total, n, noise, mean)
            {
                let w = r?;
                check::finite_vec("estimate of E_q[Y]", site::IMPORTANCE_SAMPLING, mean)?;
                return Ok(diagnostics(w.max_log_weight, w.sum, w.sum_sq));
            }
        }
        if self.scratch.len() < n || self.scratch.first().is_some_and(|c| c.y.len() != d) {
            // A typed error rather than a capacity-overflow panic for an absurd chunk count.
            let mut scratch = Vec::new();
            scratch
                .try_reserve_exact(n)
                .map_err(|_| Error::InvalidHyperParameter {
                    name: "chunks",
                    value: n as f64,
                    reason: "too many chunks to allocate: use fewer (the default is 16)",
                })?;
            scratch.extend((0..n).map(|_| Chunk {
                y: DVector::zeros(d),
                sy: vec![T::zero(); d],
                ls: LogSum::default(),
                scale: 0.0,
            }));
            self.scratch = scratch;
        }
        let batch = &self.batch;
        self.scratch[..n]
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(c, ch)| -> Result<()> {
                ch.ls = LogSum::default();
                ch.sy.iter_mut().for_each(|v| *v = T::zero());
                let (lo, hi) = (chunk_start(c, j_total, n), chunk_start(c + 1, j_total, n));
                // Sample j's term w_j·y_j is added to the chunk's sum in the pass that draws
                // sample j + 1 into the same buffer (one pass over y per sample instead of two).
                let mut pending: Option<(f64, f64)> = None;
                let xs = x.as_slice();
                for j in lo..hi {
                    let mut r = noise.sample(j);
                    let y = ch.y.as_mut_slice();
                    match pending {
                        None => kernels::sample_around(&mut r, y, xs, sqrt_tau),
                        Some((rescale, w)) => {
                            let rescale = (rescale != 1.0).then(|| T::lit(rescale));
                            let (sy, w) = (&mut ch.sy[..], T::lit(w));
                            kernels::add_then_sample_around(&mut r, sy, y, xs, sqrt_tau, rescale, w)
                        }
                    }
                    let f = check::finite(
                        "loss value",
                        site::IMPORTANCE_SAMPLING,
                        loss.cost(&ch.y, batch),
                    )?;
                    pending = Some(ch.ls.add(-f.as_f64()));
                }
                if let Some((rescale, w)) = pending {
                    if rescale != 1.0 {
                        kernels::scale(&mut ch.sy, T::lit(rescale));
                    }
                    kernels::axpy(&mut ch.sy, T::lit(w), ch.y.as_slice());
                }
                Ok(())
            })?;
        // Merge chunks in chunk order (fixed summation order => thread-count independent).
        let chunks = &mut self.scratch[..n];
        let m = chunks
            .iter()
            .fold(f64::NEG_INFINITY, |a, c| a.max(c.ls.max_log_weight));
        let (mut s, mut s2) = (0.0, 0.0);
        for ch in chunks.iter_mut() {
            ch.scale = (ch.ls.max_log_weight - m).exp();
            s += ch.ls.sum * ch.scale;
            s2 += ch.ls.sum_sq * ch.scale * ch.scale;
        }
        for (i, mi) in mean.iter_mut().enumerate() {
            let mut acc = 0.0;
            for ch in chunks.iter() {
                acc += ch.sy[i].as_f64() * ch.scale;
            }
            *mi = T::lit(acc / s);
        }
        check::finite_vec("estimate of E_q[Y]", site::IMPORTANCE_SAMPLING, mean)?;
        Ok(diagnostics(m, s, s2))
    }
}
