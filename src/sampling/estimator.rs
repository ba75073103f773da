//! The estimator interface: E_{q_{x,τ}}\[Y\] (000 eq. 15), the one expectation a mean-seeking
//! Gaussian–KL step and the local-entropy gradient need.

use crate::rng::Prng;
use crate::{Real, Report, Result};
use nalgebra::DVector;

/// An estimator of E_{q_{x,τ}}\[Y\] (000 eq. 15), the minimizer of x ↦ KL(q_{x_k,τ} ‖ φ_{x,τ})
/// (000 §5.1).
///
/// `O` is the objective type; each implementation bounds it by what it needs (`Cost<T>` for
/// importance sampling and quadrature, `Gradient<T>` for SGLD).
///
/// Contract: on `Err`, the estimator's persistent state (e.g. SGLD's warm-start chain) is unchanged
/// and `mean` may hold garbage (callers write into a scratch buffer).
pub trait MeanEstimator<T: Real, O: ?Sized> {
    /// Writes an estimate of E_{q_{x,τ}}\[Y\] into `mean` (length d) and returns what the
    /// estimator knows of it (ESS, the estimate of F_τ, named extras); the step that calls it
    /// fills in the counts ([`Report`]).
    ///
    /// Errors: `x.len() != loss.dim()`
    /// ([`Error::DimensionMismatch`](crate::Error::DimensionMismatch)), `mean.len() != x.len()`
    /// ([`Error::BufferLength`](crate::Error::BufferLength)) — both checked before the loss is
    /// called —, invalid hyper-parameters, a non-finite loss, gradient or estimate
    /// ([`Error::NonFinite`](crate::Error::NonFinite)).
    fn estimate(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        mean: &mut DVector<T>,
    ) -> Result<Report>;

    /// Writes E_{q_{x,τ}}\[Y\] − x, the mean displacement from the centre, into `out`: what the
    /// local-entropy gradient ∇F_τ(x) = −(E_q\[Y\] − x)/τ (000 eq. 12) needs. The default is
    /// [`Self::estimate`] minus x; a chain kept as a displacement returns its own mean directly.
    fn estimate_displacement(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        let report = self.estimate(x, tau, loss, rng, out)?;
        *out -= x;
        Ok(report)
    }

    /// How many calls of [`Self::displacement_slice`] one estimate takes (default 1), so that a
    /// scheduler can interleave several estimates on fewer threads (Parle's replicas).
    fn slices(&self) -> usize {
        1
    }

    /// Part of [`Self::estimate_displacement`]: `first` begins a new estimate (abandoning any
    /// unfinished one); then `Ok(None)` while more calls (with the same arguments and `first`
    /// false) are needed, `Ok(Some(report))` once `out` holds the estimate. The default does the
    /// whole estimate in one call.
    fn displacement_slice(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        out: &mut DVector<T>,
        first: bool,
    ) -> Result<Option<Report>> {
        let _ = first;
        self.estimate_displacement(x, tau, loss, rng, out).map(Some)
    }

    /// Whether τ = +∞ (no proximal term) is allowed: only a chain started at x with finitely
    /// many steps has a meaning there (Elastic-SGD's reduction, 003 §5.3.1). The default: no.
    fn allows_infinite_tau(&self) -> bool {
        false
    }

    /// Checks the estimator's own hyper-parameters (sample counts, step sizes), as
    /// [`Optimizer::validate`](crate::Optimizer::validate). The default has none to check.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// Forwards every method of [`MeanEstimator`] through a pointer type.
macro_rules! forward_estimator {
    ($(#[$doc:meta] $ptr:ty),*) => {$(
        #[$doc]
        impl<T: Real, O: ?Sized, E: MeanEstimator<T, O> + ?Sized> MeanEstimator<T, O> for $ptr {
            fn estimate(
                &mut self,
                x: &DVector<T>,
                tau: T,
                loss: &O,
                rng: &mut Prng,
                mean: &mut DVector<T>,
            ) -> Result<Report> {
                (**self).estimate(x, tau, loss, rng, mean)
            }
            fn estimate_displacement(
                &mut self,
                x: &DVector<T>,
                tau: T,
                loss: &O,
                rng: &mut Prng,
                out: &mut DVector<T>,
            ) -> Result<Report> {
                (**self).estimate_displacement(x, tau, loss, rng, out)
            }
            fn slices(&self) -> usize {
                (**self).slices()
            }
            fn displacement_slice(
                &mut self,
                x: &DVector<T>,
                tau: T,
                loss: &O,
                rng: &mut Prng,
                out: &mut DVector<T>,
                first: bool,
            ) -> Result<Option<Report>> {
                (**self).displacement_slice(x, tau, loss, rng, out, first)
            }
            fn validate(&self) -> Result<()> {
                (**self).validate()
            }
            fn allows_infinite_tau(&self) -> bool {
                (**self).allows_infinite_tau()
            }
        }
    )*};
}

forward_estimator!(
    /// A boxed estimator (chosen at run time) is an estimator.
    Box<E>,
    /// A borrowed estimator is an estimator (e.g. to keep its warm-start chain after the oracle).
    &mut E
);

/// The running log-sum-exp of the estimators (000 Alg. 4 in log space): the objective's own
/// [`WeightSums`](crate::objective::WeightSums).
pub(crate) use crate::objective::WeightSums as LogSum;
