//! The crate's one error type. Every fallible call returns [`Result`]; nothing panics on bad input.
//!
//! Every message says which value was wrong, what is allowed and what usually fixes it; the
//! variants' fields carry the same facts for programs ([`Error::algorithm`] and [`Error::hint`]
//! give the algorithm's name and the advice of a [`Error::NonFinite`] error).

use thiserror::Error;

/// Everything that can go wrong in a scheme, optimizer, data reader or checkpoint.
///
/// After any error returned by a `step`, the parameters passed in are exactly as they were before
/// the call (the step works on scratch buffers and commits only on success). `Clone` and
/// `PartialEq` (an I/O error is kept as its [`std::io::ErrorKind`] and message), so errors can be
/// stored, compared in tests and sent between threads. Equality is that of the fields, with a NaN
/// value equal to a NaN (so an error equals its clone) and −0 unequal to +0.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyper-parameter is outside its valid range (τ ≤ 0, NaN, zero samples, α ∉ (1/2, 1], …).
    #[error("invalid hyper-parameter `{name}` = {value}: {reason}")]
    InvalidHyperParameter {
        /// The parameter's name, as the builder method or argument that sets it (`tau`, `alpha`,
        /// `samples`, …).
        name: &'static str,
        /// The offending value (as `f64`; counts are converted).
        value: f64,
        /// The allowed range, in words ("must be finite and > 0", "must be in [0, 1)", …).
        reason: &'static str,
    },
    /// A vector does not have the length it must have: in a step, an estimate or a gradient
    /// oracle, the parameters x have `got` entries where the loss's [`Cost::dim`](crate::Cost::dim)
    /// is `expected` (also used for data whose shape does not match, e.g. labels vs. examples).
    #[error(
        "dimension mismatch: expected length {expected}, got {got}. In a step or an estimate: \
         x.len() = {got} but the loss's `dim()` = {expected}; pass an x of length {expected} \
         (e.g. `DVector::zeros(loss.dim())`) or give the loss the right `dim()`"
    )]
    DimensionMismatch {
        /// The length required (the objective's dimension).
        expected: usize,
        /// The length of the vector that was passed.
        got: usize,
    },
    /// A vector passed alongside x does not have x's length: an output buffer of an estimator,
    /// oracle or solver (`mean`, `grad`, `out`, `x_next`), or the gradient given to
    /// [`UpdateRule::try_apply`](crate::update::UpdateRule::try_apply). Nothing was computed and
    /// the user's loss was not called.
    #[error(
        "buffer `{buffer}` has length {got} but must have length {expected}, that of x: pass a \
         vector of x's length (e.g. `DVector::zeros(x.len())`)"
    )]
    BufferLength {
        /// The argument's name (`mean`, `grad`, `out`, `x_next`).
        buffer: &'static str,
        /// The length it must have (x's length).
        expected: usize,
        /// Its length.
        got: usize,
    },
    /// The loss, its gradient, or a quantity derived from them became NaN or ±∞ during a step.
    /// The parameters (and optimizer state) are left as they were before the step.
    ///
    /// The message names the quantity, the algorithm (as [`Error::algorithm`]) and what usually
    /// fixes it ([`Error::hint`]).
    #[error(
        "non-finite {what} (NaN or ±∞) in {}: x and the optimizer state are unchanged. {}",
        algorithm_name(during),
        non_finite_hint(what, during)
    )]
    NonFinite {
        /// Which quantity was not finite (`loss value`, `gradient`, `estimate of E_q[Y]`, …).
        what: &'static str,
        /// Which algorithm found it, by the name a user knows it by: `SGLD`,
        /// `importance sampling`, `quadrature`, `Robbins–Monro`,
        /// `the Langevin inner loop of Entropy-SGD/Parle`, `HEAT`, `SAM`, `gradient descent`,
        /// `Trivialized-SGD`, `Parle / Elastic-SGD`, … Some sites still store an older spelling
        /// (e.g. `SGLD (000 Alg. 3)`): [`Error::algorithm`] always gives the plain name.
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
    /// Any other I/O failure (writing a log, starting a thread pool), kept as its kind and
    /// message so that the error stays `Clone` and `PartialEq`. `?` converts a
    /// [`std::io::Error`] into it.
    #[error("i/o error ({kind}): {message}")]
    Io {
        /// The kind of the I/O error.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
    },
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl Error {
    /// For [`Error::NonFinite`], the algorithm that found the value, by its plain name (`SGLD`,
    /// `importance sampling`, `Robbins–Monro`, `the Langevin inner loop of Entropy-SGD/Parle`,
    /// …); `None` for the other variants.
    pub fn algorithm(&self) -> Option<&'static str> {
        match self {
            Error::NonFinite { during, .. } => Some(algorithm_name(during)),
            _ => None,
        }
    }

    /// What usually fixes the error, in words (the last sentence of its message for
    /// [`Error::NonFinite`]); `None` where the message itself says it all.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::NonFinite { what, during } => Some(non_finite_hint(what, during)),
            _ => None,
        }
    }
}

/// The canonical names of the algorithms in [`Error::NonFinite::during`].
pub(crate) mod site {
    pub const SGLD: &str = "SGLD";
    pub const IMPORTANCE_SAMPLING: &str = "importance sampling";
    pub const QUADRATURE: &str = "quadrature";
    pub const ROBBINS_MONRO: &str = "Robbins–Monro";
    pub const MONTE_CARLO_LOCAL_ENTROPY: &str = "the Monte Carlo estimate of the local entropy F_τ";
    pub const MONTE_CARLO_HEAT: &str =
        "the Monte Carlo estimate of the heat-regularized loss F^H_τ";
    pub const LANGEVIN: &str = "the Langevin inner loop of Entropy-SGD/Parle";
    pub const ENTROPY_SGD_DATA_TERM: &str = "Entropy-SGD's data term ρ∇f(x)";
    pub const PARLE: &str = "Parle / Elastic-SGD";
    pub const HEAT: &str = "HEAT";
    pub const SAM: &str = "SAM";
    pub const GRADIENT_DESCENT: &str = "gradient descent";
    pub const TRIVIALIZED: &str = "Trivialized-SGD";
    pub const OPTIMIZER_STEP: &str = "the optimizer step";
    pub const UPDATE_RULE: &str = "the optimizer's update rule";
    pub const TWO_STEP: &str = "the two-step scheme (LocalEntropy / HeatRegularization)";
}

/// The plain name of the algorithm recorded in `during`: older spellings with paper references
/// (kept by some sites) are mapped to it, and any other trailing reference in parentheses that
/// starts with a digit (`(000 Alg. 3)`, `(003 eq. 5.8c-d)`) is dropped.
fn algorithm_name(during: &'static str) -> &'static str {
    match during {
        "SGLD (000 Alg. 3)" => site::SGLD,
        "importance sampling (000 Alg. 4)" => site::IMPORTANCE_SAMPLING,
        "Robbins-Monro (000 Alg. 5)" => site::ROBBINS_MONRO,
        "Langevin inner loop" => site::LANGEVIN,
        "Entropy-SGD outer gradient" => site::ENTROPY_SGD_DATA_TERM,
        "Parle replica step" | "Parle / Elastic-SGD update (003 eq. 5.8c-d)" => site::PARLE,
        "optimizer step" => site::OPTIMIZER_STEP,
        _ => match during.rfind(" (") {
            Some(i)
                if during.ends_with(')')
                    && during[i + 2..].starts_with(|c: char| c.is_ascii_digit()) =>
            {
                &during[..i]
            }
            _ => during,
        },
    }
}

/// What usually fixes a non-finite `what` in the algorithm `during`.
fn non_finite_hint(what: &str, during: &'static str) -> &'static str {
    match (algorithm_name(during), what) {
        (site::SGLD, _) => {
            "Usually the Langevin step sizes are too large for this loss: use a smaller \
             `constant_step` or a larger `harmonic` offset (or a larger τ); otherwise the \
             loss's gradient overflows near x."
        }
        (site::IMPORTANCE_SAMPLING, "loss value") => {
            "The loss returned NaN or ±∞ at a point sampled around x (x + √τ·noise): use \
             a smaller τ, or make the loss finite there (clamp it, or compute it in log \
             space)."
        }
        (site::IMPORTANCE_SAMPLING, _) => {
            "The weighted mean of the samples overflowed: use a smaller τ, or a loss that stays \
             finite around x."
        }
        (site::QUADRATURE, _) => {
            "The loss or its gradient is NaN or ±∞ at a grid node within x ± half_width·√τ: \
             use a smaller τ or `half_width` (`Quadrature::new`), or make the loss finite there."
        }
        (site::ROBBINS_MONRO, _) => {
            "Use a smaller step scale `c` or a smaller τ (the sampled points stay closer to x), \
             or make the loss's gradient finite around x."
        }
        (site::MONTE_CARLO_LOCAL_ENTROPY | site::MONTE_CARLO_HEAT, _) => {
            "The loss returned NaN or ±∞ at a point sampled around x: use a smaller τ, or make \
             the loss finite there."
        }
        (site::LANGEVIN | site::PARLE, "replica gradient") => {
            "The elastic pull (x^a − x)/ρ overflowed: use a larger coupling ρ, or a smaller \
             learning rate."
        }
        (site::PARLE, _) => {
            "A replica's update overflowed: use a smaller learning rate (or less momentum), or a \
             larger coupling ρ."
        }
        (site::LANGEVIN, _) => {
            "Usually the Langevin step (`langevin_step`) is too large for this loss or scope γ \
             (the inner loop is stable only while step·(curvature of the loss + 1/γ) < 2), \
             or the thermal noise is too large; otherwise the loss's gradient overflows near x."
        }
        (site::ENTROPY_SGD_DATA_TERM, _) => {
            "The loss's gradient at x is NaN or ±∞: check the loss at these parameters, or set \
             `data_weight(0)`."
        }
        (site::HEAT, _) => {
            "The gradient at a perturbed point x + noise (variance γ) is NaN or ±∞: use a \
             smaller scope γ, or make the loss's gradient finite around x."
        }
        (site::SAM, _) => {
            "The gradient at x or at the ascent point x + r·g/|g| is NaN or ±∞: use a smaller \
             radius r, or make the loss's gradient finite near x."
        }
        (site::GRADIENT_DESCENT | site::TRIVIALIZED, _) => {
            "The loss's gradient at x is NaN or ±∞: check the loss at these parameters (a log of \
             0, an overflowing exp), or use a smaller learning rate so that x stays where the \
             loss is finite."
        }
        (site::UPDATE_RULE, _) => {
            "The update overflowed x: use a smaller learning rate (or less momentum), or scale \
             the loss down."
        }
        (site::OPTIMIZER_STEP, _) => {
            "The smoothed gradient is too large to use (its norm overflows): scale the loss down, \
             or use smaller inner step sizes."
        }
        (site::TWO_STEP, "parameters x_k") => {
            "x contains NaN or ±∞ on entry: start from finite parameters."
        }
        (site::TWO_STEP, _) => {
            "The new iterate is not finite: use smaller step sizes in the estimator or solver, or \
             a smaller τ."
        }
        _ => "Check that the loss is finite near x, or use smaller step sizes.",
    }
}

/// Shorthand for `std::result::Result<T, wide_valleys::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Validation helpers shared by every constructor and builder.
pub(crate) mod check {
    use super::{algorithm_name, Error, Result};
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
                reason: "must be finite and ≥ 0",
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
                reason: "must be > 0 (+∞ allowed: it switches the coupling off)",
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

    /// The output buffer `buffer` must have x's length `expected`.
    pub fn output(buffer: &'static str, expected: usize, got: usize) -> Result<()> {
        if expected == got {
            Ok(())
        } else {
            Err(Error::BufferLength {
                buffer,
                expected,
                got,
            })
        }
    }

    /// The preamble of every estimator, solver and oracle: x of the loss's dimension, then the
    /// output buffer `buffer` of x's length. Returns that length d.
    pub fn dim_and_output(
        loss_dim: usize,
        x_len: usize,
        buffer: &'static str,
        out_len: usize,
    ) -> Result<usize> {
        dim(loss_dim, x_len)?;
        output(buffer, x_len, out_len)?;
        Ok(x_len)
    }

    /// `a + b` steps must be countable (no `usize` overflow); `name` is reported with value `a`.
    pub fn sum_fits(name: &'static str, a: usize, b: usize, reason: &'static str) -> Result<usize> {
        a.checked_add(b).ok_or(Error::InvalidHyperParameter {
            name,
            value: a as f64,
            reason,
        })
    }

    /// SGLD's `burn_in + samples` Langevin steps must be countable in a `usize`.
    pub fn burn_in_fits(burn_in: usize, samples: usize) -> Result<usize> {
        sum_fits(
            "burn_in",
            burn_in,
            samples,
            "burn_in + samples must be at most usize::MAX (both count Langevin steps): use a \
             smaller burn_in",
        )
    }

    /// `a · b` steps must be countable (no `u64` or `usize` overflow); `name` is reported with
    /// value `a`.
    pub fn product_fits(
        name: &'static str,
        a: usize,
        b: usize,
        reason: &'static str,
    ) -> Result<usize> {
        a.checked_mul(b)
            .filter(|&p| u64::try_from(p).is_ok())
            .ok_or(Error::InvalidHyperParameter {
                name,
                value: a as f64,
                reason,
            })
    }

    /// The shared precondition of every Gaussian–KL estimator and solver: τ finite and > 0, then
    /// x of the objective's dimension. Returns that dimension d.
    pub fn tau_and_dim<T: Real>(tau: T, expected: usize, got: usize) -> Result<usize> {
        positive("tau", tau)?;
        dim(expected, got)?;
        Ok(got)
    }

    /// Every entry of `v` must be finite. `during` is stored by its plain name.
    pub fn finite_vec<T: Real>(
        what: &'static str,
        during: &'static str,
        v: &nalgebra::DVector<T>,
    ) -> Result<()> {
        if crate::kernels::all_finite(v.as_slice()) {
            Ok(())
        } else {
            Err(Error::NonFinite {
                what,
                during: algorithm_name(during),
            })
        }
    }

    /// A scalar must be finite. `during` is stored by its plain name.
    pub fn finite<T: Real>(what: &'static str, during: &'static str, v: T) -> Result<T> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::NonFinite {
                what,
                during: algorithm_name(during),
            })
        }
    }
}

impl PartialEq for Error {
    /// Same variant and same fields, floats compared by their `Debug` form (the shortest decimal
    /// that round-trips, exact for every finite value and ±∞; every NaN prints `NaN`).
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && format!("{self:?}") == format!("{other:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_compare_field_by_field_with_values_by_their_bits() {
        let e = |value: f64| Error::InvalidHyperParameter {
            name: "tau",
            value,
            reason: "must be finite and > 0",
        };
        assert_eq!(e(f64::NAN), e(f64::NAN).clone());
        assert_eq!(e(-1.0), e(-1.0));
        assert_ne!(e(0.0), e(-0.0));
        assert_ne!(e(1.0), e(2.0));
        let other = Error::InvalidHyperParameter {
            name: "scope",
            value: 1.0,
            reason: "must be finite and > 0",
        };
        assert_ne!(e(1.0), other);
        assert_ne!(
            e(1.0),
            Error::DimensionMismatch {
                expected: 1,
                got: 2
            }
        );
    }

    #[test]
    fn every_older_spelling_has_a_plain_name() {
        for (old, new) in [
            ("SGLD (000 Alg. 3)", site::SGLD),
            (
                "importance sampling (000 Alg. 4)",
                site::IMPORTANCE_SAMPLING,
            ),
            ("Robbins-Monro (000 Alg. 5)", site::ROBBINS_MONRO),
            ("Langevin inner loop", site::LANGEVIN),
            ("Entropy-SGD outer gradient", site::ENTROPY_SGD_DATA_TERM),
            ("Parle replica step", site::PARLE),
            ("Parle / Elastic-SGD update (003 eq. 5.8c-d)", site::PARLE),
            ("optimizer step", site::OPTIMIZER_STEP),
            ("something new (004 Alg. 1)", "something new"),
            ("plain (not a reference)", "plain (not a reference)"),
            (site::HEAT, site::HEAT),
        ] {
            assert_eq!(algorithm_name(old), new, "{old}");
        }
    }

    #[test]
    fn messages_name_the_quantity_the_algorithm_and_a_fix() {
        let e = Error::NonFinite {
            what: "gradient",
            during: "SGLD (000 Alg. 3)",
        };
        let m = e.to_string();
        assert!(
            m.starts_with("non-finite gradient (NaN or ±∞) in SGLD: "),
            "{m}"
        );
        assert!(m.contains("x and the optimizer state are unchanged"), "{m}");
        assert!(m.contains("step size"), "{m}");
        assert!(!m.contains("000"), "no paper references: {m}");
        assert_eq!(e.algorithm(), Some("SGLD"));
        assert!(m.ends_with(e.hint().unwrap()), "{m}");
        let m = Error::NonFinite {
            what: "gradient",
            during: "Langevin inner loop",
        }
        .to_string();
        assert!(
            m.contains("the Langevin inner loop of Entropy-SGD/Parle")
                && m.contains("langevin_step"),
            "{m}"
        );
        let m = check::positive("tau", -1.0).unwrap_err().to_string();
        assert_eq!(
            m,
            "invalid hyper-parameter `tau` = -1: must be finite and > 0"
        );
        let m = check::output("mean", 2, 3).unwrap_err().to_string();
        assert!(
            m.contains("buffer `mean` has length 3 but must have length 2"),
            "{m}"
        );
        let m = check::dim(2, 3).unwrap_err().to_string();
        assert!(m.contains("x.len() = 3 but the loss's `dim()` = 2"), "{m}");
    }

    #[test]
    fn errors_are_clone_and_partial_eq_and_io_errors_convert() {
        let io: Error = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file").into();
        assert_eq!(
            io,
            Error::Io {
                kind: std::io::ErrorKind::NotFound,
                message: "no such file".into()
            }
        );
        assert_eq!(io.clone(), io);
        assert_eq!(io.to_string(), "i/o error (entity not found): no such file");
        fn read() -> Result<()> {
            Err(std::io::Error::other("boom"))?;
            Ok(())
        }
        assert!(matches!(
            read(),
            Err(Error::Io {
                kind: std::io::ErrorKind::Other,
                ..
            })
        ));
        assert_ne!(check::count("samples", 0).unwrap_err(), io);
    }

    #[test]
    fn counts_that_overflow_are_typed_errors() {
        assert!(check::sum_fits("burn_in", usize::MAX, 1, "r").is_err());
        assert_eq!(check::sum_fits("burn_in", 3, 4, "r"), Ok(7));
        assert!(check::product_fits("iterations", usize::MAX, 2, "r").is_err());
        assert_eq!(check::product_fits("iterations", 3, 4, "r"), Ok(12));
    }
}
