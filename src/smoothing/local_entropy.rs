//! The local-entropy gradient ∇F_γ(x) = (x − E_{q_{x,γ}}\[Y\])/γ (000 eq. 12, 003 eq. 3.10) over
//! any estimator of E_q — Entropy-SGD's Langevin inner loop (004 Alg. 1, the default), SGLD,
//! importance sampling (gradient-free), quadrature — and its noiseless last-iterate variant, the
//! Hopf–Lax gradient of HJ (003 eqs. 4.41–4.42).

use super::GradientOracle;
use crate::error::check;
use crate::objective::Cost;
use crate::rng::Prng;
use crate::sampling::{Averaging, ExponentialSgld, MeanEstimator};
use crate::{Real, Report, Result, Schedule};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// ∇F_γ(x) = −(E_{q_{x,γ}}\[Y\] − x)/γ with E_q from the estimator `E` (000 eq. 12; 004 eq. 7
/// with its coupling γ₀₀₄ = 1/γ and the opposite sign of F). The default `E` is Entropy-SGD's
/// inner loop ([`ExponentialSgld`], 004 Alg. 1 lines 1–6); with
/// [`ImportanceSampling`](crate::sampling::ImportanceSampling) the gradient needs only the loss's
/// values (gradient-free Entropy-SGD, which 000 §5 motivates).
///
/// With [`Self::scaled`] the gradient is multiplied by γ, giving x − E_q\[Y\] (003 §3.2.3: with
/// SGD and η = 1 the outer step is x ← E_q\[Y\]). γ = +∞ is allowed where the estimator allows it
/// (the proximal term vanishes; the unscaled gradient is then 0).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real, E: Serialize + serde::de::DeserializeOwned")]
pub struct LocalEntropyGradient<T: Real, E = ExponentialSgld<T>> {
    // γ = +∞ (Elastic-SGD) has no JSON number: checkpoints store it as a unit variant.
    #[serde(with = "crate::checkpoint::checked_schedule")]
    scope: Schedule<T>,
    estimator: E,
    scaled: bool,
}

impl<T: Real> LocalEntropyGradient<T> {
    /// Scope γ (a variance; schedule or constant, +∞ allowed) and L ≥ 1 Langevin steps of
    /// Entropy-SGD's inner loop with its defaults ([`ExponentialSgld::new`]), unscaled. To change
    /// the chain's step, noise or averaging, build the chain and use [`Self::with_estimator`].
    pub fn new(scope: impl Into<Schedule<T>>, langevin_steps: usize) -> Self {
        Self::with_estimator(scope, ExponentialSgld::new(langevin_steps))
    }
}

impl<T: Real, E> LocalEntropyGradient<T, E> {
    /// Scope γ (a variance; schedule or constant, +∞ allowed if the estimator allows it) and any
    /// estimator of E_q\[Y\] (SGLD, importance sampling, quadrature, Entropy-SGD's inner loop).
    /// Values are checked before use ([`GradientOracle::validate`]).
    pub fn with_estimator(scope: impl Into<Schedule<T>>, estimator: E) -> Self {
        Self {
            scope: scope.into(),
            estimator,
            scaled: false,
        }
    }

    /// 003 §3.2.3: return γ∇F_γ = x − E_q\[Y\] instead of ∇F_γ (so that scoping γ does not fight
    /// the learning rate; with SGD and η = 1 the outer step is x ← E_q\[Y\]).
    pub fn scaled(mut self, scaled: bool) -> Self {
        self.scaled = scaled;
        self
    }

    /// The scope schedule γ_k.
    pub fn scope(&self) -> &Schedule<T> {
        &self.scope
    }

    /// γ_k at outer step k.
    pub fn scope_at(&self, k: usize) -> T {
        self.scope.at(k)
    }

    /// Whether the gradient is scaled by γ (003 §3.2.3).
    pub fn is_scaled(&self) -> bool {
        self.scaled
    }

    /// The estimator of E_q\[Y\].
    pub fn estimator(&self) -> &E {
        &self.estimator
    }
}

impl<T: Real, E> LocalEntropyGradient<T, E> {
    /// γ_k, checked: > 0, and +∞ only where the estimator allows it.
    fn gamma_at<O: ?Sized>(&self, k: usize) -> Result<T>
    where
        E: MeanEstimator<T, O>,
    {
        let gamma = self.scope.positive_or_inf_at("scope", k)?;
        if !gamma.is_finite() && !self.estimator.allows_infinite_tau() {
            return Err(crate::Error::InvalidHyperParameter {
                name: "scope",
                value: gamma.as_f64(),
                reason: "must be finite and > 0 for this estimator of E_q (γ = +∞ needs \
                         Entropy-SGD's chain, ExponentialSgld)",
            });
        }
        Ok(gamma)
    }
}

impl<T: Real, O: Cost<T> + ?Sized, E: MeanEstimator<T, O>> GradientOracle<T, O>
    for LocalEntropyGradient<T, E>
{
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        let mut first = true;
        loop {
            if let Some(report) = self.estimate_slice(x, loss, k, rng, out, first)? {
                return Ok(report);
            }
            first = false;
        }
    }

    fn slices(&self) -> usize {
        self.estimator.slices()
    }

    fn validate(&self, k: usize) -> Result<()> {
        self.gamma_at(k)?;
        self.estimator.validate()
    }

    fn estimate_slice(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
        first: bool,
    ) -> Result<Option<Report>> {
        // Checked here too, whatever the estimator checks: a user's estimator may trust them.
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        let gamma = self.gamma_at(k)?;
        let Some(mut report) = self
            .estimator
            .displacement_slice(x, gamma, loss, rng, out, first)?
        else {
            return Ok(None);
        };
        // −(E_q[Y] − x)/γ, or x − E_q[Y] scaled; 0 for γ = ∞ unscaled.
        let factor = if self.scaled {
            -T::one()
        } else {
            -(T::one() / gamma)
        };
        *out *= factor;
        check::finite_vec("local-entropy gradient", crate::error::site::LANGEVIN, out)?;
        report.scope = Some(gamma.as_f64());
        Ok(Some(report))
    }
}

/// The Hopf–Lax (non-viscous Hamilton–Jacobi) gradient (x − y_L)/γ: L noiseless gradient steps
/// y ← y − η_y(∇f(y) + (y − x)/γ) from y = x, keeping the **last** iterate (003 eqs. 4.40–4.41
/// with β_ex⁻¹ = 0 and α = 0, §4.6.1.2; eq. 4.42 is the same update in the variable x − y).
/// y_L approximates prox_{γf}(x), so this estimates ∇u(x, γ) (003 eq. 4.18).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct HopfLaxGradient<T: Real>(LocalEntropyGradient<T>);

impl<T: Real> HopfLaxGradient<T> {
    /// Scope γ (variance, +∞ allowed) and L ≥ 1 inner steps (003 §4.6.1.2 uses L = 5), inner step
    /// η_y = 0.1 (003 §4.6.1.1).
    pub fn new(scope: impl Into<Schedule<T>>, inner_steps: usize) -> Self {
        Self(LocalEntropyGradient::with_estimator(
            scope,
            ExponentialSgld::new(inner_steps)
                .thermal_noise(T::zero())
                .averaging(Averaging::last_iterate()),
        ))
    }

    /// The inner step η_y > 0 (checked before use).
    pub fn inner_step(self, step: T) -> Self {
        let LocalEntropyGradient {
            scope,
            estimator,
            scaled,
        } = self.0;
        Self(LocalEntropyGradient {
            scope,
            estimator: estimator.langevin_step(step),
            scaled,
        })
    }

    /// Return γ·gradient = x − y_L (as [`LocalEntropyGradient::scaled`]).
    pub fn scaled(self, scaled: bool) -> Self {
        Self(self.0.scaled(scaled))
    }

    /// γ_k at outer step k.
    pub fn scope_at(&self, k: usize) -> T {
        self.0.scope_at(k)
    }
}

impl<T: Real, O: crate::Gradient<T> + ?Sized> GradientOracle<T, O> for HopfLaxGradient<T> {
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        self.0.estimate(x, loss, k, rng, out).map_err(inner_names)
    }

    fn validate(&self, k: usize) -> Result<()> {
        GradientOracle::<T, O>::validate(&self.0, k).map_err(inner_names)
    }
}

/// HJ's names for the chain's settings (003 eq. 4.40: L inner steps of size η_y), so that an
/// error names the parameter as [`HamiltonJacobi::new`](crate::HamiltonJacobi::new) and
/// [`HopfLaxGradient::inner_step`] call it.
fn inner_names(e: crate::Error) -> crate::Error {
    match e {
        crate::Error::InvalidHyperParameter {
            name,
            value,
            reason,
        } => crate::Error::InvalidHyperParameter {
            name: match name {
                "langevin_step" => "inner_step",
                "langevin_steps" => "inner_steps",
                other => other,
            },
            value,
            reason,
        },
        e => e,
    }
}
