//! The crate's one error type. Every fallible call returns [`Result`]; nothing panics on bad input.

use thiserror::Error;

/// Everything that can go wrong in a scheme, optimizer, data reader or checkpoint.
///
/// After any error returned by a `step`, the parameters passed in are exactly as they were before
/// the call (the step works on scratch buffers and commits only on success).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyper-parameter is outside its valid range (τ ≤ 0, NaN, zero samples, α ∉ (1/2, 1], …).
    #[error("invalid hyper-parameter `{name}` = {value}: {reason}")]
    InvalidHyperParameter {
        /// The parameter's name, in the papers' words (`tau`, `alpha`, `samples`, …).
        name: &'static str,
        /// The offending value (as `f64`; counts are converted).
        value: f64,
        /// What the valid range is.
        reason: &'static str,
    },
    /// The parameter vector does not have the dimension the objective expects.
    #[error(
        "dimension mismatch: the objective has dimension {expected}, the parameters have {got}"
    )]
    DimensionMismatch {
        /// Dimension of the objective.
        expected: usize,
        /// Dimension of the vector that was passed.
        got: usize,
    },
    /// The loss, its gradient, or a quantity derived from them became NaN or ±∞ during a step.
    /// The parameters (and optimizer state) are left as they were before the step.
    #[error("non-finite {what} during {during}")]
    NonFinite {
        /// Which quantity was not finite (`loss value`, `gradient`, `importance weights`, …).
        what: &'static str,
        /// Which algorithm step found it.
        during: &'static str,
    },
    /// A data file could not be read or is malformed.
    #[error("data file {path}: {problem}")]
    Data {
        /// The file that was being read.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A checkpoint could not be written, read or is incompatible.
    #[error("checkpoint {path}: {problem}")]
    Checkpoint {
        /// The checkpoint file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Any other I/O failure.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for `std::result::Result<T, wide_valleys::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Validation helpers shared by every constructor and builder.
pub(crate) mod check {
    use super::{Error, Result};
    use crate::Real;

    /// `v` must be finite and > 0.
    pub fn positive<T: Real>(name: &'static str, v: T) -> Result<T> {
        if v.is_finite() && v > T::zero() {
            Ok(v)
        } else {
            Err(Error::InvalidHyperParameter {
                name,
                value: v.as_f64(),
                reason: "must be finite and > 0",
            })
        }
    }

    /// `v` must be finite and ≥ 0.
    pub fn non_negative<T: Real>(name: &'static str, v: T) -> Result<T> {
        if v.is_finite() && v >= T::zero() {
            Ok(v)
        } else {
            Err(Error::InvalidHyperParameter {
                name,
                value: v.as_f64(),
                reason: "must be finite and >= 0",
            })
        }
    }

    /// `v` must be > 0 (may be +∞: used for γ, ρ where ∞ switches a coupling off).
    pub fn positive_or_inf<T: Real>(name: &'static str, v: T) -> Result<T> {
        if !v.as_f64().is_nan() && v > T::zero() {
            Ok(v)
        } else {
            Err(Error::InvalidHyperParameter {
                name,
                value: v.as_f64(),
                reason: "must be > 0 (+inf allowed)",
            })
        }
    }

    /// `v` must lie in the closed interval [lo, hi].
    pub fn in_closed<T: Real>(name: &'static str, v: T, lo: f64, hi: f64) -> Result<T> {
        let f = v.as_f64();
        if f.is_finite() && f >= lo && f <= hi {
            Ok(v)
        } else {
            Err(Error::InvalidHyperParameter {
                name,
                value: f,
                reason: "outside its valid closed interval",
            })
        }
    }

    /// A count (samples, iterations, replicas) must be ≥ 1.
    pub fn count(name: &'static str, n: usize) -> Result<usize> {
        if n >= 1 {
            Ok(n)
        } else {
            Err(Error::InvalidHyperParameter {
                name,
                value: n as f64,
                reason: "must be at least 1",
            })
        }
    }

    /// `x` must have the objective's dimension.
    pub fn dim(expected: usize, got: usize) -> Result<()> {
        if expected == got {
            Ok(())
        } else {
            Err(Error::DimensionMismatch { expected, got })
        }
    }

    /// The shared precondition of every Gaussian–KL estimator and solver: τ finite and > 0, then
    /// x of the objective's dimension. Returns that dimension d.
    pub fn tau_and_dim<T: Real>(tau: T, expected: usize, got: usize) -> Result<usize> {
        positive("tau", tau)?;
        dim(expected, got)?;
        Ok(got)
    }

    /// Every entry of `v` must be finite.
    pub fn finite_vec<T: Real>(
        what: &'static str,
        during: &'static str,
        v: &nalgebra::DVector<T>,
    ) -> Result<()> {
        if crate::kernels::all_finite(v.as_slice()) {
            Ok(())
        } else {
            Err(Error::NonFinite { what, during })
        }
    }

    /// A scalar must be finite.
    pub fn finite<T: Real>(what: &'static str, during: &'static str, v: T) -> Result<T> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::NonFinite { what, during })
        }
    }
}
