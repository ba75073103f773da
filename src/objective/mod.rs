//! Objectives: the user's loss, kept apart from the algorithms that use it (as in argmin).
//!
//! Two small traits:
//! - [`Cost`]: the value f(x). Enough for gradient-free methods: importance sampling (000 Alg. 4)
//!   and the Monte Carlo estimate of F_τ (000 eq. 2).
//! - [`Gradient`]: adds ∇f(x), written into a caller-owned buffer. Needed by SGLD (000 Alg. 3),
//!   Robbins–Monro (000 Alg. 5, eq. 17) and every first-order optimizer.
//! - [`MeanGradient`] (optional, through [`Gradient::as_mean_gradient`]): the mean of many
//!   gradients at once, for objectives that compute it faster than one gradient at a time.
//!
//! How the threads stand around a call (may it split its work? are all threads busy?) travels
//! explicitly as a [`Parallelism`] hint: an argument of [`Gradient::gradient_with`], and a
//! property of a view of the loss, [`Cost::parallelism`] (set by
//! [`Counted::with_parallelism`]). A loss that cannot use it keeps the defaults.
//!
//! Stochastic (minibatch) losses take a [`Batch`]; the *algorithm* decides when a fresh minibatch is
//! drawn by calling [`Cost::draw_batch`]: SGLD draws one per Langevin step, importance sampling
//! evaluates all its samples on one, Entropy-SGD draws separate ones for its inner loop and its
//! outer gradient. A deterministic loss ignores the batch and keeps the default `draw_batch`.

mod closures;
mod counting;
mod noise;
mod parallelism;

pub use closures::{FnCost, FnLoss};
pub use counting::{Counted, Counts};
pub use noise::NoiseStream;
pub use parallelism::Parallelism;

use crate::rng::Prng;
use crate::Real;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// Which training examples a stochastic loss is evaluated on.
///
/// Drawn by the algorithm through [`Cost::draw_batch`], which reuses the `Vec`'s allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Batch {
    /// The whole dataset, or a deterministic loss.
    #[default]
    Full,
    /// A minibatch: indices into the training set.
    Indices(Vec<usize>),
}

impl Batch {
    /// The minibatch indices, or `None` for the full dataset.
    pub fn indices(&self) -> Option<&[usize]> {
        match self {
            Batch::Full => None,
            Batch::Indices(v) => Some(v),
        }
    }

    /// Turns `self` into an index batch and returns its (cleared) index buffer for refilling,
    /// keeping the allocation of an existing index batch.
    pub fn indices_mut(&mut self) -> &mut Vec<usize> {
        if let Batch::Full = self {
            *self = Batch::Indices(Vec::new());
        }
        match self {
            Batch::Indices(v) => {
                v.clear();
                v
            }
            Batch::Full => unreachable!("just replaced by Indices"),
        }
    }
}

/// A loss value f(x) over parameters x ∈ ℝᵈ (000 §2: the training loss f).
///
/// `Sync` because estimators evaluate many samples in parallel (000 Alg. 4 is "easily
/// parallelizable"). Implementations that need scratch memory keep a pool of workspaces.
pub trait Cost<T: Real>: Sync {
    /// The dimension d of the parameter vector.
    fn dim(&self) -> usize;

    /// f(x) on `batch`. May return NaN or ±∞; every algorithm checks and reports
    /// [`Error::NonFinite`](crate::Error::NonFinite) instead of corrupting its iterate.
    fn cost(&self, x: &DVector<T>, batch: &Batch) -> T;

    /// Draws a fresh minibatch into `batch`. The default (a deterministic loss) sets
    /// [`Batch::Full`] and consumes no randomness.
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        let _ = rng;
        *batch = Batch::Full;
    }

    /// This objective's path for importance sampling with less noise
    /// ([`GaussianWeightedMean`]), if it has one. The default `None` makes importance sampling
    /// draw whole samples.
    fn as_gaussian_weighted_mean(&self) -> Option<&dyn GaussianWeightedMean<T>> {
        None
    }

    /// What this view of the loss knows about the threads around the calls made on it (see
    /// [`Parallelism`]): [`Parallelism::AllThreadsBusy`] for the loss Parle hands each replica
    /// while every thread runs a replica of its own. The samplers read it before a step and
    /// pass what they conclude to [`Gradient::gradient_with`]. The default is
    /// [`Parallelism::Unknown`]; a wrapper of another loss forwards the wrapped loss's hint (as
    /// [`Counted`] and the `&C` impl do).
    fn parallelism(&self) -> Parallelism {
        Parallelism::Unknown
    }
}

/// Self-normalised importance sampling under the law of x + s·ξ, ξ ~ N(0, I), with less noise
/// drawn: the estimate Σ_j w_j y_j / Σ_j w_j over J samples y_j = x + s·ξ_j with weights w_j =
/// e^{−f(y_j)} on one minibatch (000 Alg. 4, eq. 16), computed so that the result has the same
/// law as with J whole samples, for objectives whose f(x + s·ξ) depends on only part of ξ (or
/// on a function of ξ of lower dimension). Offered through [`Cost::as_gaussian_weighted_mean`];
/// used by [`ImportanceSampling::projected`](crate::sampling::ImportanceSampling::projected).
pub trait GaussianWeightedMean<T: Real>: Sync {
    /// Writes Σ_j w_j y_j / Σ_j w_j over `samples` samples y_j ~ x + s·ξ_j into `mean` and
    /// returns the weights' sums, or `None` if the objective has no such path for `batch` (the
    /// caller then draws whole samples). A non-finite loss value is an
    /// [`Error::NonFinite`](crate::Error::NonFinite) error.
    ///
    /// Randomness: what the estimate draws for sample j comes from
    /// [`NoiseStream::sample`]`(j)` of `noise`, and anything drawn for the estimate as a whole
    /// from [`NoiseStream::auxiliary`]. The samples may be summed in `chunks` fixed groups
    /// (1 ≤ `chunks` ≤ `samples`, merged in order, as the caller's own whole-sample path does),
    /// so the result may depend on `chunks` but never on the thread count.
    #[allow(clippy::too_many_arguments)]
    fn gaussian_weighted_mean(
        &self,
        x: &DVector<T>,
        s: T,
        batch: &Batch,
        samples: usize,
        chunks: usize,
        noise: NoiseStream,
        mean: &mut DVector<T>,
    ) -> Option<crate::Result<WeightSums>>;
}

/// Weights w_j = e^{l_j} summed in log space (in f64, so that weights e^{−f} stay exact when f
/// is of order 10⁴): with m = max_j l_j, `sum` = Σ_j e^{l_j − m} and `sum_sq` = Σ_j e^{2(l_j −
/// m)}. What a [`GaussianWeightedMean`] returns (there l_j = −f(y_j)), and the running sum that
/// both sides of it keep ([`WeightSums::add`]).
///
/// ```
/// use wide_valleys::objective::WeightSums;
/// let mut w = WeightSums::default();
/// for l in [-1000.0, -1001.0] {
///     w.add(l);
/// }
/// assert_eq!(w.max_log_weight, -1000.0);
/// assert!((w.log_sum() - (-1000.0 + (1.0 + (-1.0f64).exp()).ln())).abs() < 1e-9);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightSums {
    /// m = max_j l_j (−∞ while empty).
    pub max_log_weight: f64,
    /// Σ_j e^{l_j − m}.
    pub sum: f64,
    /// Σ_j e^{2(l_j − m)}.
    pub sum_sq: f64,
}

impl Default for WeightSums {
    /// No weights yet: m = −∞, both sums 0.
    fn default() -> Self {
        Self {
            max_log_weight: f64::NEG_INFINITY,
            sum: 0.0,
            sum_sq: 0.0,
        }
    }
}

impl WeightSums {
    /// Adds the log-weight `l`; returns (the factor by which sums scaled by e^{−m} so far must
    /// be multiplied, as m may have grown; this term's scaled weight e^{l − m}).
    #[inline]
    pub fn add(&mut self, l: f64) -> (f64, f64) {
        let mut rescale = 1.0;
        if l > self.max_log_weight {
            rescale = if self.max_log_weight == f64::NEG_INFINITY {
                0.0
            } else {
                (self.max_log_weight - l).exp()
            };
            self.sum *= rescale;
            self.sum_sq *= rescale * rescale;
            self.max_log_weight = l;
        }
        let w = (l - self.max_log_weight).exp();
        self.sum += w;
        self.sum_sq += w * w;
        (rescale, w)
    }

    /// log Σ_j e^{l_j}.
    pub fn log_sum(&self) -> f64 {
        self.max_log_weight + self.sum.ln()
    }
}

/// A differentiable loss: adds ∇f(x) to [`Cost`].
pub trait Gradient<T: Real>: Cost<T> {
    /// Writes ∇f(x) on `batch` into `grad` (already of length [`Cost::dim`]).
    fn gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>);

    /// [`Gradient::gradient`] with a hint about the threads around this call (see
    /// [`Parallelism`]): e.g. [`Parallelism::IdleThreadBeside`] from a sampler that draws its
    /// noise on another thread meanwhile, so that the objective may give that thread half of its
    /// large products once the noise is drawn. The result must be the same bits whatever `par`
    /// (the hint is about speed only). The default ignores the hint; override it when the
    /// gradient can use a second thread (e.g. to split its large matrix products).
    fn gradient_with(
        &self,
        x: &DVector<T>,
        batch: &Batch,
        grad: &mut DVector<T>,
        par: Parallelism,
    ) {
        let _ = par;
        self.gradient(x, batch, grad)
    }

    /// f(x) and ∇f(x) together; override when sharing the forward pass is cheaper.
    fn cost_and_gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) -> T {
        self.gradient(x, batch, grad);
        self.cost(x, batch)
    }

    /// This objective's batched path for means of many gradients ([`MeanGradient`]), if it has
    /// one. The default `None` makes the algorithms call [`Gradient::gradient`] once per point.
    fn as_mean_gradient(&self) -> Option<&dyn MeanGradient<T>> {
        None
    }
}

/// The mean of many gradients at once: (1/M) Σ_m ∇f(z_m), each z_m on its own minibatch — the
/// Monte Carlo estimate of E_{φ_{x,τ}}\[∇f\] in Robbins–Monro's h(x) (000 Alg. 5, eq. 17).
///
/// An objective whose gradients share structure computes this faster than M calls to
/// [`Gradient::gradient`] (e.g. the M gradients of a linear layer as one matrix product over
/// the M minibatches side by side, the points evaluated in parallel). Offered through [`Gradient::as_mean_gradient`].
pub trait MeanGradient<T: Real>: Sync {
    /// Writes (1/M) Σ_m ∇f(z_m) on `batches[m]` into `grad` (length [`Cost::dim`]) and returns the
    /// mean loss (1/M) Σ_m f(z_m), with M = `batches.len()`.
    ///
    /// The points come from `point(m, offset, part)`, which writes entries `offset..offset +
    /// part.len()` of z_m into `part`. Each point is asked for consecutive parts from offset 0 to
    /// d, each starting at a multiple of [`POINT_BLOCK`] (a block of a [`NoiseStream`], so that
    /// the caller can draw each part from its own stream), and the objective may use a part
    /// before asking for the next (e.g. while it is in cache). Points may be
    /// asked for from several threads at once and in any order, so `point` must depend on its
    /// arguments alone (e.g. a per-sample, per-block random stream). The result must not depend
    /// on the thread count. NaN (grad filled with NaN) on bad input, as [`Gradient::gradient`].
    fn mean_gradient(
        &self,
        batches: &[Batch],
        point: &(dyn Fn(usize, usize, &mut [T]) + Sync),
        grad: &mut DVector<T>,
    ) -> T;

    /// The same estimator *in law* as [`mean_gradient`](Self::mean_gradient) at M independent
    /// points z_m under the law of x + s·ξ, ξ ~ N(0, I) (000 eq. 17's Monte Carlo mean of ∇f
    /// over φ_{x,s²}), for objectives that can draw less than a whole ξ_m (e.g. only a function
    /// of it of lower dimension, in law): writes (1/M) Σ_m ∇f(z_m) on `batches[m]` into `grad`
    /// and returns the mean loss. The randomness of point m comes only from the streams of
    /// `noise.after(m)` ([`NoiseStream::after`]), so the result does not depend on the thread
    /// count. `None` if the objective has no such path for these batches (the caller then draws
    /// whole points); NaN as in [`mean_gradient`](Self::mean_gradient) on bad input.
    fn gaussian_mean_gradient(
        &self,
        x: &DVector<T>,
        s: T,
        batches: &[Batch],
        noise: NoiseStream,
        grad: &mut DVector<T>,
    ) -> Option<T> {
        let _ = (x, s, batches, noise, grad);
        None
    }
}

/// Granularity of the parts in which [`MeanGradient::mean_gradient`] asks for its points: every
/// part starts at a multiple of this many entries, a block of a [`NoiseStream`].
pub const POINT_BLOCK: usize = NoiseStream::BLOCK;

/// A borrowed loss (`&L`, `&dyn Cost<T>`) is a loss: every method is forwarded.
impl<T: Real, C: Cost<T> + ?Sized> Cost<T> for &C {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn cost(&self, x: &DVector<T>, batch: &Batch) -> T {
        (**self).cost(x, batch)
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        (**self).draw_batch(rng, batch)
    }
    fn as_gaussian_weighted_mean(&self) -> Option<&dyn GaussianWeightedMean<T>> {
        (**self).as_gaussian_weighted_mean()
    }
    fn parallelism(&self) -> Parallelism {
        (**self).parallelism()
    }
}

/// A borrowed differentiable loss (`&L`, `&dyn Gradient<T>`) is one: every method is forwarded.
impl<T: Real, G: Gradient<T> + ?Sized> Gradient<T> for &G {
    fn gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) {
        (**self).gradient(x, batch, grad)
    }
    fn gradient_with(
        &self,
        x: &DVector<T>,
        batch: &Batch,
        grad: &mut DVector<T>,
        par: Parallelism,
    ) {
        (**self).gradient_with(x, batch, grad, par)
    }
    fn cost_and_gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) -> T {
        (**self).cost_and_gradient(x, batch, grad)
    }
    fn as_mean_gradient(&self) -> Option<&dyn MeanGradient<T>> {
        (**self).as_mean_gradient()
    }
}

/// A boxed loss (`Box<dyn Cost<T>>`, chosen at run time) is a loss: every method is forwarded,
/// including [`Cost::draw_batch`] and [`Cost::as_gaussian_weighted_mean`], so it behaves bit for
/// bit as the loss inside.
impl<T: Real, C: Cost<T> + ?Sized> Cost<T> for Box<C> {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn cost(&self, x: &DVector<T>, batch: &Batch) -> T {
        (**self).cost(x, batch)
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        (**self).draw_batch(rng, batch)
    }
    fn as_gaussian_weighted_mean(&self) -> Option<&dyn GaussianWeightedMean<T>> {
        (**self).as_gaussian_weighted_mean()
    }
}

/// A boxed differentiable loss (`Box<dyn Gradient<T>>`) is a differentiable loss: every method
/// is forwarded, including [`Gradient::cost_and_gradient`] and [`Gradient::as_mean_gradient`].
impl<T: Real, G: Gradient<T> + ?Sized> Gradient<T> for Box<G> {
    fn gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) {
        (**self).gradient(x, batch, grad)
    }
    fn cost_and_gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) -> T {
        (**self).cost_and_gradient(x, batch, grad)
    }
    fn as_mean_gradient(&self) -> Option<&dyn MeanGradient<T>> {
        (**self).as_mean_gradient()
    }
}
