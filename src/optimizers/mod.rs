//! The optimizers of the seeds, as "a smoothed-gradient oracle followed by an update rule"
//! (`shared/DESIGN.md`, first column of the table).
//!
//! | optimizer | oracle ([`GradientOracle`]) | paper |
//! |---|---|---|
//! | [`EntropySgd`] / Entropy-Adam | [`LocalEntropyGradient`]: L Langevin steps on f(y) + \|y − x\|²/(2γ) | 004 Alg. 1, eqs. 7–9; 003 Alg. 2, §3.2.3, §3.3.5 |
//! | [`HamiltonJacobi`] (HJ) | [`HopfLaxGradient`]: L gradient steps, no noise, last iterate | 003 eq. 4.40–4.42, §4.6.1.2 |
//! | [`Heat`] (HEAT) | [`HeatGradient`]: mean of L gradients at x + εᵢ, εᵢ ~ N(0, γI) | 003 eq. 4.43 |
//! | [`Sam`] | [`SamGradient`]: ∇f(x + r g/\|g\|) | baseline (Foret et al. 2021) |
//! | [`TrivializedSgd`] | [`TrivializedGradient`]: ∇f + an annealed random field h | 003 §2.3.3 Alg. 1, eq. 2.20 |
//! | [`GradientDescent`] | [`PlainGradient`]: ∇f | — |
//! | [`ElasticSgd`], [`Parle`] | local entropy + elastic coupling per replica, master = mean | 003 eqs. 5.4, 5.8, 5.10, §5.3.1–5.3.2, §5.5 |
//!
//! Every single-process optimizer is a [`SmoothedOptimizer`] (oracle + [`UpdateRule`](crate::update::UpdateRule) + learning
//! rate [`Schedule`](crate::Schedule)); the front doors ([`EntropySgd::new`], [`Heat::new`], …) only choose the
//! oracle and its defaults. Replacing the rule gives the variants of the papers, e.g.
//! `EntropySgd::new(..)?.with_rule(Adam::standard())` is Entropy-Adam (003 §3.3.5).
//!
//! ```
//! use nalgebra::dvector;
//! use wide_valleys::objectives::GaussianMixture;
//! use wide_valleys::optimizers::{Averaging, EntropySgd, GradientDescent};
//! use wide_valleys::Optimizer;
//! use wide_valleys::Schedule;
//!
//! // A sharp deep minimum at −2 and a wide shallow one at 1.5.
//! let f = GaussianMixture::<f64>::wide_and_sharp();
//! let (mut x_gd, mut x_es) = (dvector![-1.8], dvector![-1.8]);
//! let mut gd = GradientDescent::new(0.01)?.seed(1);
//! // Scope γ_k = 2·0.98^k clipped at 0.1 (a variance), L = 50 Langevin steps, scaled form.
//! let mut es = EntropySgd::new(Schedule::geometric(2.0, 0.98)?.clipped(0.1, 10.0)?, 50, 0.5)?
//!     .scaled(true)
//!     .averaging(Averaging::new_sample_weight(0.1)?)
//!     .langevin_step(0.12)?
//!     .thermal_noise(1.0)?
//!     .seed(1);
//! for _ in 0..400 {
//!     gd.step(&mut x_gd, &f)?;
//!     es.step(&mut x_es, &f)?;
//! }
//! assert!((x_gd[0] + 2.0).abs() < 0.1); // gradient descent: the sharp minimum
//! assert!(x_es[0] > 0.5); // Entropy-SGD: the wide valley
//! # Ok::<(), wide_valleys::Error>(())
//! ```
//!
//! ## Conventions (see `docs/optimizers.md`)
//! - γ is a **variance** (003's convention, the crate's τ): the proximal term is \|y − x\|²/(2γ).
//!   004's γ is a coupling strength: `gamma_here = 1 / gamma_004`.
//! - One counter k per optimizer advances exactly once per **outer** step (after a successful
//!   step); every schedule (γ_k, ρ_k, η_k) is read at k.
//! - Randomness: the optimizer owns a [`Prng`] seeded with `.seed(u64)`; a single-process
//!   optimizer uses stream 0 of that seed, replica a of [`Parle`] uses stream a, so Parle with
//!   n = 1 draws exactly the numbers Entropy-SGD draws (003 §5.3.1 holds bit for bit).
//! - Errors: a step that fails (non-finite loss or gradient, invalid scheduled value, dimension
//!   mismatch) returns a typed [`Error`](crate::Error) and leaves x, the rule's state, the counter
//!   and the generator exactly as they were.

mod data_term;
mod elastic;
mod heat;
mod local_entropy;
mod parle;
mod plain;
mod sam;
mod smoothed;

mod trivialized;

pub use crate::sampling::{Averaging, NoiseScale};
pub use data_term::DataTerm;
pub use elastic::ElasticCoupling;
pub use heat::{Heat, HeatGradient};
pub use local_entropy::{EntropySgd, HamiltonJacobi, HopfLaxGradient, LocalEntropyGradient};
pub use parle::{ElasticSgd, Parle, ParleReplica};
pub use parle::{InProcess, Transport};
pub use plain::{GradientDescent, PlainGradient};
pub use sam::{FirstBatch, Sam, SamGradient};
pub use smoothed::SmoothedOptimizer;
pub use trivialized::{TrivializedGradient, TrivializedSgd};

use crate::rng::Prng;
use crate::{Real, Report, Result};
use nalgebra::DVector;

/// An estimator of the gradient of a smoothed loss at x (the first column of the table above),
/// for a loss of type `O`: each implementation states what it needs of the loss (the
/// local-entropy gradient over importance sampling only [`Cost`](crate::Cost)).
///
/// Implementations keep hyper-parameters and scratch: all randomness comes from the `rng`
/// argument, so restoring the generator after a failed call restores everything. State that must
/// persist (Trivialized-SGD's field h) is made permanent only by [`GradientOracle::commit`].
/// Oracles wrap each other: [`DataTerm`] adds 004's ρ∇f, [`ElasticCoupling`] Parle's elastic
/// term, [`SamGradient`] evaluates any oracle at SAM's adversarial point.
pub trait GradientOracle<T: Real, O: ?Sized> {
    /// Writes the smoothed gradient at `x` into `out` (of length `x.len()`), using outer counter
    /// `k` for the oracle's schedules, and returns what the oracle knows of the step (its scope
    /// γ_k, named extras; the optimizer fills in the counts). Errors on non-finite values; `x` is
    /// never modified.
    ///
    /// Every oracle of this crate first checks `x.len() == loss.dim()` where it can see the loss's
    /// dimension ([`Error::DimensionMismatch`](crate::Error::DimensionMismatch)) and
    /// `out.len() == x.len()` ([`Error::BufferLength`](crate::Error::BufferLength)), so the loss is
    /// never called with a vector of the wrong length.
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report>;

    /// How many calls of [`Self::estimate_slice`] one estimate takes (default 1): Parle
    /// interleaves its replicas' slices over fewer threads.
    fn slices(&self) -> usize {
        1
    }

    /// Part of [`Self::estimate`]: `first` begins a new estimate (abandoning any unfinished
    /// one); then `Ok(None)` while more calls (with the same arguments and `first` false) are
    /// needed, `Ok(Some(report))` once `out` holds the gradient. The default does it all at once.
    fn estimate_slice(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
        first: bool,
    ) -> Result<Option<Report>> {
        let _ = first;
        self.estimate(x, loss, k, rng, out).map(Some)
    }

    /// Called after a successful step (the default does nothing).
    fn commit(&mut self) {}

    /// Checks the oracle's hyper-parameters at outer step k (its scope γ_k, sample counts, step
    /// sizes), as [`Optimizer::validate`](crate::Optimizer::validate). The default has none.
    fn validate(&self, k: usize) -> Result<()> {
        let _ = k;
        Ok(())
    }
}
