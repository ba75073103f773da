//! Schedules for τ, the scope γ, the coupling ρ and learning rates, indexed by one counter k that
//! advances once per outer step (the authors' code got this wrong in two ways: Entropy-SGD's
//! PyTorch port never advanced it, Parle's advanced it once per tensor).
//!
//! - 000 eq. 18: τ(k) = τ₀ / (1 + τ₁)^k — [`Schedule::eq18`];
//! - 003 §3.2.3 scoping: γ_k = γ₀ / (1 + γ₁)^k (γ a variance, decreasing) — [`Schedule::geometric`]
//!   with `factor = 1/(1+γ₁)`; 004's coupling γ_k = γ₀(1 + γ₁)^k is its reciprocal;
//! - 003 eq. 5.10 (Parle): γ_k = γ₀ (1 − 1/(2B))^⌊k/L⌋, ρ_k likewise, with clipping —
//!   [`Schedule::geometric`] plus [`Schedule::every`] and [`Schedule::clipped`].

use crate::error::{check, Result};
use crate::Real;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A value as a function of the outer-step counter k = 0, 1, 2, ….
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub enum Schedule<T: Real> {
    /// v_k = v.
    Constant(T),
    /// v_k = clamp(initial · factor^⌊k / every⌋, min, max).
    Geometric {
        /// v₀.
        initial: T,
        /// Multiplied in once per `every` steps (< 1 decays, > 1 grows).
        factor: T,
        /// Steps per application of `factor` (L in 003 eq. 5.10; 1 elsewhere).
        every: usize,
        /// Lower clip.
        min: T,
        /// Upper clip (may be +∞; stored as `null` in JSON, which has no infinity).
        #[serde(with = "infinite_as_none")]
        max: T,
    },
    /// Any closure k ↦ v_k (not serializable: a checkpoint stores only its counter).
    #[serde(skip)]
    Custom(Arc<dyn Fn(usize) -> T + Send + Sync>),
}

impl<T: Real> fmt::Debug for Schedule<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant(v) => write!(f, "Constant({v})"),
            Schedule::Geometric {
                initial,
                factor,
                every,
                min,
                max,
            } => write!(
                f,
                "Geometric {{ initial: {initial}, factor: {factor}, every: {every}, min: {min}, max: {max} }}"
            ),
            Schedule::Custom(_) => write!(f, "Custom(..)"),
        }
    }
}

impl<T: Real> Schedule<T> {
    /// A constant value (checked to be finite and > 0 when used).
    pub fn constant(v: T) -> Self {
        Schedule::Constant(v)
    }

    /// 000 eq. 18: τ(k) = τ₀ / (1 + τ₁)^k, with τ₀ > 0 and τ₁ > −1 (τ₁ < 0 makes τ grow, the
    /// "reverse" schedule of 000 Figure 8). τ₁ ≤ −1 gives a factor that is not finite and > 0,
    /// which [`Schedule::validate`] reports.
    pub fn eq18(tau0: T, tau1: T) -> Self {
        let one = T::one();
        Self::geometric(tau0, one / (one + tau1))
    }

    /// v_k = initial · factor^k (unclipped; add [`Schedule::clipped`] and [`Schedule::every`]).
    pub fn geometric(initial: T, factor: T) -> Self {
        Schedule::Geometric {
            initial,
            factor,
            every: 1,
            min: T::zero(),
            max: T::lit(f64::INFINITY),
        }
    }

    /// Clips a geometric schedule to [min, max] (003 eq. 5.10 clips γ and ρ; 0 ≤ min ≤ max). No
    /// effect on others.
    pub fn clipped(self, min: T, max: T) -> Self {
        match self {
            Schedule::Geometric {
                initial,
                factor,
                every,
                ..
            } => Schedule::Geometric {
                initial,
                factor,
                every,
                min,
                max,
            },
            other => other,
        }
    }

    /// Applies a geometric schedule's factor once every `every` ≥ 1 steps (⌊k/L⌋ in 003 eq.
    /// 5.10).
    pub fn every(self, every: usize) -> Self {
        match self {
            Schedule::Geometric {
                initial,
                factor,
                min,
                max,
                ..
            } => Schedule::Geometric {
                initial,
                factor,
                every,
                min,
                max,
            },
            other => other,
        }
    }

    /// Checks the schedule's own parameters (the crate's policy: values are taken as given and
    /// checked before use): a geometric schedule needs initial and factor finite and > 0,
    /// every ≥ 1 and 0 ≤ min ≤ max (max may be +∞). Constant and custom schedules are checked
    /// value by value ([`Schedule::positive_at`]).
    pub fn validate(&self) -> Result<()> {
        if let Schedule::Geometric {
            initial,
            factor,
            every,
            min,
            max,
        } = self
        {
            check::positive("initial", *initial)?;
            check::positive("factor", *factor)?;
            check::count("every", *every)?;
            check::non_negative("min", *min)?;
            if max.as_f64().is_nan() || *max < *min {
                return Err(crate::Error::InvalidHyperParameter {
                    name: "max",
                    value: max.as_f64(),
                    reason: "must be ≥ min (and not NaN)",
                });
            }
        }
        Ok(())
    }

    /// Any closure k ↦ v_k. Its values are checked when used.
    pub fn from_fn(f: impl Fn(usize) -> T + Send + Sync + 'static) -> Self {
        Schedule::Custom(Arc::new(f))
    }

    /// The value at outer step `k`.
    pub fn at(&self, k: usize) -> T {
        match self {
            Schedule::Constant(v) => *v,
            Schedule::Geometric {
                initial,
                factor,
                every,
                min,
                max,
            } => {
                // Guards keep a hand-built or deserialized schedule from panicking: `every = 0`
                // counts as 1, and the clip is NaN-safe (NaN bounds are ignored).
                let e = i32::try_from(k / (*every).max(1)).unwrap_or(i32::MAX);
                let mut v = *initial * factor.powi(e);
                if v < *min {
                    v = *min;
                }
                if v > *max {
                    v = *max;
                }
                v
            }
            Schedule::Custom(f) => f(k),
        }
    }

    /// The value at step `k`, checked to be finite and > 0 after [`Schedule::validate`] (custom
    /// closures can return anything).
    pub fn positive_at(&self, name: &'static str, k: usize) -> Result<T> {
        self.validate()?;
        check::positive(name, self.at(k))
    }

    /// As [`Schedule::positive_at`] but +∞ is allowed: a scope or coupling (003 §5.3.1 needs
    /// γ = ρ = ∞, where the proximal or elastic term vanishes).
    pub fn positive_or_inf_at(&self, name: &'static str, k: usize) -> Result<T> {
        self.validate()?;
        check::positive_or_inf(name, self.at(k))
    }
}

impl<T: Real> From<T> for Schedule<T> {
    /// A constant schedule (validated when used through [`Schedule::positive_at`]).
    fn from(v: T) -> Self {
        Schedule::Constant(v)
    }
}

/// Serializes an upper bound that may be +∞ as `Option` (JSON has no infinity).
mod infinite_as_none {
    use crate::Real;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Real, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let o: Option<T> = if v.is_finite() { Some(*v) } else { None };
        o.serialize(s)
    }

    pub fn deserialize<'de, T: Real, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_else(|| T::lit(f64::INFINITY)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_schedule_round_trips_through_json_with_infinite_max() {
        let s = Schedule::<f64>::eq18(1.5, 0.01);
        let j = serde_json::to_string(&s).unwrap();
        let back: Schedule<f64> = serde_json::from_str(&j).unwrap();
        for k in [0, 1, 7, 500] {
            // black_box: LLVM may constant-fold `powi` for the schedule it can see (with a
            // different rounding than the run-time routine); compare run-time values only.
            let (a, b) = (
                std::hint::black_box(&s).at(k),
                std::hint::black_box(&back).at(k),
            );
            assert_eq!(a.to_bits(), b.to_bits(), "k = {k}");
        }
        assert!((back.at(3) - 1.5 / 1.01f64.powi(3)).abs() < 1e-15);
    }

    #[test]
    fn eq18_and_clipping_and_every() {
        let s = Schedule::<f64>::geometric(1.0, 0.5)
            .every(3)
            .clipped(0.2, 0.9);
        assert_eq!(s.at(0), 0.9);
        assert_eq!(s.at(3), 0.5);
        assert_eq!(s.at(6), 0.25);
        assert_eq!(s.at(9), 0.2);
        assert!(s.validate().is_ok());
        let named = |s: Schedule<f64>| match s.positive_at("tau", 0) {
            Err(crate::Error::InvalidHyperParameter { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(named(Schedule::eq18(0.0, 0.1)), "initial");
        assert_eq!(named(Schedule::eq18(1.0, -1.0)), "factor");
        assert_eq!(named(Schedule::geometric(1.0, 0.5).every(0)), "every");
        assert_eq!(
            named(Schedule::geometric(1.0, 0.5).clipped(0.5, 0.2)),
            "max"
        );
        assert_eq!(named(Schedule::constant(f64::NAN)), "tau");
        assert!(Schedule::from_fn(|_| -1.0f64)
            .positive_at("tau", 0)
            .is_err());
    }
}
