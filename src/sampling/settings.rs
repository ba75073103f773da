//! The Langevin chain's settings that the seeds write differently: how the noise scales with the
//! step and the temperature (000 Alg. 3 adds N(0, ε_j); 004 Alg. 1 adds √η′·ε·N(0, I); 003 writes
//! √(2ηβ⁻¹)), and which weight of the exponential average is meant (004's α is the new sample's,
//! 003's the old average's).

use crate::{Error, Real, Result};
use serde::{Deserialize, Serialize};

/// How the Langevin noise is scaled from the step η′ and the thermal noise β⁻¹.
///
/// The seeds disagree (see the module doc), so this is an explicit parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseScale {
    /// σ = √(2η′β⁻¹) (003 Alg. 2 line 4). The Euler–Maruyama discretisation of the Langevin SDE
    /// whose invariant law is ∝ exp(−β(f(y) + |y − x|²/(2γ))): with β⁻¹ = 1 the chain samples
    /// q_{x,γ} of 000 eq. 6 (as η′ → 0). The default.
    #[default]
    TwoStepTemperature,
    /// σ = √(η′β⁻¹) (003 eqs. 4.39–4.40): samples at temperature β⁻¹/2.
    StepTemperature,
    /// σ = √η′·ε with the thermal-noise amplitude ε := β⁻¹ (004 Alg. 1 line 5, "√η′ ε N(0, I)";
    /// the stored seed text prints the factor as "2√η′"). ε is an amplitude, not a variance.
    SqrtStepTimesAmplitude,
}

impl NoiseScale {
    /// The standard deviation σ of the noise added to each Langevin step.
    pub fn sigma<T: Real>(self, step: T, thermal_noise: T) -> T {
        match self {
            NoiseScale::TwoStepTemperature => (T::lit(2.0) * step * thermal_noise).sqrt(),
            NoiseScale::StepTemperature => (step * thermal_noise).sqrt(),
            NoiseScale::SqrtStepTimesAmplitude => step.sqrt() * thermal_noise,
        }
    }
}

/// The exponential average of the Langevin iterates, μ ← (1 − a)·μ + a·y, with `a` the weight of
/// the **new** sample (004's convention: α₀₀₄ = a = 0.75–0.9). 003 writes z ← αz + (1 − α)y with
/// α on the **old** average (α₀₀₃ = 0.25), i.e. a = 1 − α₀₀₃. a = 1 keeps the last iterate (HJ,
/// 003 §4.6.1.2 "α = 0").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct Averaging<T: Real> {
    new_sample_weight: T,
}

impl<T: Real> Averaging<T> {
    /// From 004's α (weight of the new sample), α ∈ (0, 1] (checked by [`Averaging::validate`]).
    pub fn new_sample_weight(alpha_004: T) -> Self {
        Self {
            new_sample_weight: alpha_004,
        }
    }

    /// From 003's α (weight of the old average, Alg. 2 line 5, eq. 5.5b), α ∈ [0, 1): the new
    /// sample's weight is 1 − α.
    pub fn old_average_weight(alpha_003: T) -> Self {
        Self::new_sample_weight(T::one() - alpha_003)
    }

    /// Checks that the new sample's weight a is in (0, 1] (003's α in [0, 1)).
    pub fn validate(&self) -> Result<()> {
        let a = self.new_sample_weight;
        if !(a.is_finite() && a > T::zero() && a <= T::one()) {
            return Err(Error::InvalidHyperParameter {
                name: "alpha",
                value: a.as_f64(),
                reason: "the new sample's weight (004's α, or 1 − 003's α) must be in (0, 1]",
            });
        }
        Ok(())
    }

    /// Keep only the last iterate (a = 1; HJ, 003 §4.6.1.2).
    pub fn last_iterate() -> Self {
        Self {
            new_sample_weight: T::one(),
        }
    }

    /// The weight a of the new sample.
    pub fn weight_of_new(&self) -> T {
        self.new_sample_weight
    }
}
