//! Estimators of the mean of q_{x,τ} (000 eq. 15), the one expectation a mean-seeking Gaussian–KL
//! step needs: x_{k+1} = E_{q_{x_k,τ}}\[Y\] (000 Alg. 1, step 2).
//!
//! q_{x,τ}(y) ∝ exp(−f(y) − |y − x|²/(2τ)) (000 eq. 6), τ a variance.
//!
//! | estimator | paper | needs |
//! |---|---|---|
//! | [`Sgld`] | 000 Alg. 3 (SGLD, Welling–Teh), 004 Alg. 1 inner loop | [`Gradient`](crate::Gradient) |
//! | [`ImportanceSampling`] | 000 Alg. 4, eq. 16 (gradient-free) | [`Cost`](crate::Cost) only |
//! | [`Quadrature`] | exact expectations in d = 1, 2 (tests, theorem checks) | [`Cost`](crate::Cost) only |
//!
//! Each estimator states the bound it needs on the objective through the `O` parameter of
//! [`MeanEstimator`], so importance sampling works with a loss that has no gradient.

mod importance;
mod quadrature;
mod sgld;

pub use importance::ImportanceSampling;
pub use quadrature::Quadrature;
pub use sgld::{Sgld, StepSizes};

use crate::error::check;
use crate::rng::Prng;
use crate::{Cost, Real, Report, Result};
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
}

/// Running log-sum-exp in f64: keeps m = max lᵢ, s = Σ e^{lᵢ − m}, s₂ = Σ e^{2(lᵢ − m)}, so that
/// weights e^{−f} stay exact when f is of order 10⁴ (000 Alg. 4 in log space).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LogSum {
    pub m: f64,
    pub s: f64,
    pub s2: f64,
}

impl Default for LogSum {
    fn default() -> Self {
        Self {
            m: f64::NEG_INFINITY,
            s: 0.0,
            s2: 0.0,
        }
    }
}

impl LogSum {
    /// Adds log-weight `l`; returns (factor by which earlier scaled sums must be multiplied,
    /// this term's scaled weight e^{l − m}).
    #[inline]
    pub fn add(&mut self, l: f64) -> (f64, f64) {
        let mut rescale = 1.0;
        if l > self.m {
            rescale = if self.m == f64::NEG_INFINITY {
                0.0
            } else {
                (self.m - l).exp()
            };
            self.s *= rescale;
            self.s2 *= rescale * rescale;
            self.m = l;
        }
        let w = (l - self.m).exp();
        self.s += w;
        self.s2 += w * w;
        (rescale, w)
    }

    /// log Σ e^{lᵢ}.
    pub fn log_sum(&self) -> f64 {
        self.m + self.s.ln()
    }
}

/// ∇F_τ(x) = (x − E_{q_{x,τ}}\[Y\]) / τ (000 eq. 12), with E_q from any [`MeanEstimator`]: the
/// local-entropy gradient oracle that Entropy-SGD (004 Alg. 1) and Parle (003 eq. 5.8) feed to an
/// update rule. Writes into `grad` (length d); on error `grad` may hold garbage.
///
/// Errors: [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) if `x.len() !=
/// loss.dim()`, [`Error::BufferLength`](crate::Error::BufferLength) if `grad.len() != x.len()`
/// (checked here, whatever the estimator checks), and the estimator's errors.
pub fn local_entropy_gradient<T: Real, O: Cost<T> + ?Sized, E: MeanEstimator<T, O>>(
    estimator: &mut E,
    x: &DVector<T>,
    tau: T,
    loss: &O,
    rng: &mut Prng,
    grad: &mut DVector<T>,
) -> Result<Report> {
    check::dim_and_output(loss.dim(), x.len(), "grad", grad.len())?;
    let report = estimator.estimate(x, tau, loss, rng, grad)?;
    // grad holds E_q; turn it into (x − E_q)/τ in place (no allocation).
    for (g, xi) in grad.iter_mut().zip(x.iter()) {
        *g = (*xi - *g) / tau;
    }
    Ok(report)
}
