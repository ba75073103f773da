//! Smoothed-gradient oracles: the first column of `shared/DESIGN.md`'s table ("every method is
//! the gradient of a smoothed loss followed by an update rule"). Each oracle estimates the
//! gradient of a smoothed loss at x; wrappers add a term to, or move the point of, any oracle.
//!
//! | oracle ([`GradientOracle`]) | gradient of | paper |
//! |---|---|---|
//! | [`LocalEntropyGradient`] over any [`MeanEstimator`](crate::sampling::MeanEstimator) | local entropy F_γ: (x − E_{q_{x,γ}}\[Y\])/γ | 000 eq. 12; 004 eq. 7; 003 eq. 3.10 |
//! | [`HopfLaxGradient`]: L noiseless steps, last iterate | the Hopf–Lax (HJ) smoothing u(x, γ): (x − y_L)/γ | 003 eqs. 4.40–4.42 |
//! | [`HeatGradient`]: mean of ∇f at x + εᵢ, εᵢ ~ N(0, γI) | the heat-regularized loss f ∗ φ_{0,γ} | 003 eq. 4.43 |
//! | [`TrivializedGradient`]: ∇f + an annealed random field | a trivialized landscape | 003 §2.3.3, eq. 2.20 |
//! | [`PlainGradient`] | f itself | — |
//! | [`SamGradient`] around any oracle | the oracle at x + r·g/‖g‖ | Foret et al. 2021 (baseline) |
//! | [`DataTerm`] around any oracle | + ρ∇f(x) | 004 eq. 9 |
//! | [`ElasticCoupling`] around any oracle | + (x_a − x)/ρ (Parle's replicas) | 003 eqs. 5.4a, 5.8c |
//!
//! The optimizers that step x with them are in [`optim`](crate::optim).
//!
//! Conventions: γ is a **variance** (003's convention, the crate's τ); 004's γ is a coupling
//! strength, `gamma_here = 1 / gamma_004`. Values are taken as given and checked before use
//! ([`GradientOracle::validate`]).

mod data_term;
mod elastic;
mod heat;
mod local_entropy;
mod plain;
mod sam;
mod trivialized;

pub use data_term::DataTerm;
pub use elastic::ElasticCoupling;
pub use heat::HeatGradient;
pub use local_entropy::{HopfLaxGradient, LocalEntropyGradient};
pub use plain::PlainGradient;
pub use sam::{FirstBatch, SamGradient};
pub use trivialized::TrivializedGradient;

use crate::rng::Prng;
use crate::{Real, Report, Result};
use nalgebra::DVector;

/// An estimator of the gradient of a smoothed loss at x (the table above),
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
