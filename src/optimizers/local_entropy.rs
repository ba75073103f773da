//! The local-entropy gradient ∇F_γ(x) = (x − E_{q_{x,γ}}\[Y\])/γ (000 eq. 12, 003 eq. 3.10) over
//! any estimator of E_q — Entropy-SGD's Langevin inner loop (004 Alg. 1, the default), SGLD,
//! importance sampling (gradient-free), quadrature — and its noiseless last-iterate variant, the
//! Hopf–Lax gradient of HJ (003 eqs. 4.41–4.42).

use super::{DataTerm, GradientOracle, SmoothedOptimizer};
use crate::error::check;
use crate::estimators::{ExponentialSgld, MeanEstimator};
use crate::objective::Cost;
use crate::rng::Prng;
use crate::sampling::{Averaging, NoiseScale};
use crate::update::{Sgd, UpdateRule};
use crate::{Real, Report, Result, Schedule};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// ∇F_γ(x) = −(E_{q_{x,γ}}\[Y\] − x)/γ with E_q from the estimator `E` (000 eq. 12; 004 eq. 7
/// with its coupling γ₀₀₄ = 1/γ and the opposite sign of F). The default `E` is Entropy-SGD's
/// inner loop ([`ExponentialSgld`], 004 Alg. 1 lines 1–6); with
/// [`ImportanceSampling`](crate::estimators::ImportanceSampling) the gradient needs only the loss's
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

/// Validates a scope or coupling value: > 0, +∞ allowed (003 §5.3.1 needs γ = ρ = ∞).
pub(crate) fn check_scope<T: Real>(name: &'static str, s: &Schedule<T>, k: usize) -> Result<T> {
    check::positive_or_inf(name, s.at(k))
}

impl<T: Real> LocalEntropyGradient<T> {
    /// Scope γ (a variance; schedule or constant, +∞ allowed) and L ≥ 1 Langevin steps of
    /// Entropy-SGD's inner loop with its defaults ([`ExponentialSgld`]), unscaled.
    pub fn new(scope: impl Into<Schedule<T>>, langevin_steps: usize) -> Result<Self> {
        Self::with_estimator(scope, ExponentialSgld::new(langevin_steps)?)
    }

    /// The Langevin step η′ > 0 (004's η′, 003 Alg. 2's η, eq. 4.40's η_y, 5.8a's η⁽⁰⁾).
    pub fn langevin_step(self, step: T) -> Result<Self> {
        self.map_estimator(|e| e.langevin_step(step))
    }

    /// The thermal noise β⁻¹ ≥ 0 (0: no injected noise, only minibatch noise, 003 §5.2.2).
    pub fn thermal_noise(self, thermal_noise: T) -> Result<Self> {
        self.map_estimator(|e| e.thermal_noise(thermal_noise))
    }

    /// How the noise scales with η′ and β⁻¹ (see [`NoiseScale`]).
    pub fn noise_scale(self, scale: NoiseScale) -> Self {
        Self {
            estimator: self.estimator.noise_scale(scale),
            ..self
        }
    }

    /// The exponential averaging of the iterates (see [`Averaging`]).
    pub fn averaging(self, averaging: Averaging<T>) -> Self {
        Self {
            estimator: self.estimator.averaging(averaging),
            ..self
        }
    }

    /// The number L of Langevin steps.
    pub fn langevin_steps(&self) -> usize {
        self.estimator.langevin_steps()
    }

    fn map_estimator(
        self,
        f: impl FnOnce(ExponentialSgld<T>) -> Result<ExponentialSgld<T>>,
    ) -> Result<Self> {
        Ok(Self {
            estimator: f(self.estimator)?,
            ..self
        })
    }
}

impl<T: Real, E> LocalEntropyGradient<T, E> {
    /// Scope γ (a variance; schedule or constant, +∞ allowed if the estimator allows it) and any
    /// estimator of E_q\[Y\] (SGLD, importance sampling, quadrature, Entropy-SGD's inner loop).
    pub fn with_estimator(scope: impl Into<Schedule<T>>, estimator: E) -> Result<Self> {
        let scope = scope.into();
        check_scope("scope", &scope, 0)?;
        Ok(Self {
            scope,
            estimator,
            scaled: false,
        })
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
        check_scope("scope", &self.scope, k)?;
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
        let gamma = check_scope("scope", &self.scope, k)?;
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
    pub fn new(scope: impl Into<Schedule<T>>, inner_steps: usize) -> Result<Self> {
        Ok(Self(
            LocalEntropyGradient::new(scope, inner_steps)?
                .thermal_noise(T::zero())?
                .averaging(Averaging::last_iterate()),
        ))
    }

    /// The inner step η_y > 0.
    pub fn inner_step(self, step: T) -> Result<Self> {
        check::positive("inner_step", step)?;
        Ok(Self(self.0.langevin_step(step)?))
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
        self.0.estimate(x, loss, k, rng, out)
    }

    fn validate(&self, k: usize) -> Result<()> {
        GradientOracle::<T, O>::validate(&self.0, k)
    }
}

/// Front door for **Entropy-SGD** (004 Alg. 1; 003 Alg. 2): the [`LocalEntropyGradient`] oracle
/// followed by SGD (change the rule with [`SmoothedOptimizer::with_rule`]: Nesterov as in 003
/// §3.3, Adam for Entropy-Adam, 003 §3.3.5).
#[derive(Clone, Copy, Debug)]
pub struct EntropySgd;

// Front doors return the composed optimizer type, by design (thin front doors).
#[allow(clippy::new_ret_no_self)]
impl EntropySgd {
    /// Entropy-SGD with scope γ (a variance, γ = 1/γ₀₀₄; a constant or a scoping
    /// [`Schedule`], 003 §3.2.3), L Langevin steps and outer learning rate η.
    /// Outer step: x ← x − η(x − μ)/γ (004 eq. 9 with γ₀₀₄ = 1/γ; add ρ∇f with
    /// [`SmoothedOptimizer::data_weight`]).
    pub fn new<T: Real>(
        scope: impl Into<Schedule<T>>,
        langevin_steps: usize,
        learning_rate: T,
    ) -> Result<SmoothedOptimizer<T, LocalEntropyGradient<T>, Sgd>> {
        SmoothedOptimizer::new(
            LocalEntropyGradient::new(scope, langevin_steps)?,
            learning_rate,
        )
    }
}

impl<T: Real, U: UpdateRule<T>> SmoothedOptimizer<T, LocalEntropyGradient<T>, U> {
    /// Sets the Langevin step η′ (see [`LocalEntropyGradient::langevin_step`]).
    pub fn langevin_step(self, step: T) -> Result<Self> {
        self.try_map_oracle(|o| o.langevin_step(step))
    }
    /// Sets the thermal noise β⁻¹ (see [`LocalEntropyGradient::thermal_noise`]).
    pub fn thermal_noise(self, thermal_noise: T) -> Result<Self> {
        self.try_map_oracle(|o| o.thermal_noise(thermal_noise))
    }
    /// Sets the noise convention (see [`NoiseScale`]).
    pub fn noise_scale(self, scale: NoiseScale) -> Self {
        self.map_oracle(|o| o.noise_scale(scale))
    }
    /// Sets the exponential averaging (see [`Averaging`]).
    pub fn averaging(self, averaging: Averaging<T>) -> Self {
        self.map_oracle(|o| o.averaging(averaging))
    }
    /// 003 §3.2.3's scaled form (see [`LocalEntropyGradient::scaled`]).
    pub fn scaled(self, scaled: bool) -> Self {
        self.map_oracle(|o| o.scaled(scaled))
    }
}

impl<T: Real, G, U: UpdateRule<T>> SmoothedOptimizer<T, G, U> {
    /// Adds 004's data term ρ∇f(x), on a minibatch of its own, to the oracle's gradient (004
    /// eq. 9; ρ ≥ 0): [`DataTerm`] around any oracle.
    pub fn data_weight(self, rho: T) -> Result<SmoothedOptimizer<T, DataTerm<T, G>, U>> {
        let rho = check::non_negative("data_weight", rho)?;
        Ok(self.map_oracle(|o| DataTerm::new(o, rho)))
    }
}

/// Front door for **HJ**, non-viscous Hamilton–Jacobi smoothing (003 eq. 4.42, §4.6.1.2): the
/// [`HopfLaxGradient`] oracle followed by SGD.
#[derive(Clone, Copy, Debug)]
pub struct HamiltonJacobi;

// Front doors return the composed optimizer type, by design (thin front doors).
#[allow(clippy::new_ret_no_self)]
impl HamiltonJacobi {
    /// HJ with scope γ (variance), L inner steps (003 uses 5) and outer learning rate η:
    /// x ← x − η(x − y_L)/γ (003 eq. 4.41 with ⟨y⟩ = y_L).
    pub fn new<T: Real>(
        scope: impl Into<Schedule<T>>,
        inner_steps: usize,
        learning_rate: T,
    ) -> Result<SmoothedOptimizer<T, HopfLaxGradient<T>, Sgd>> {
        SmoothedOptimizer::new(HopfLaxGradient::new(scope, inner_steps)?, learning_rate)
    }
}

impl<T: Real, U: UpdateRule<T>> SmoothedOptimizer<T, HopfLaxGradient<T>, U> {
    /// Sets the inner step η_y (see [`HopfLaxGradient::inner_step`]).
    pub fn inner_step(self, step: T) -> Result<Self> {
        self.try_map_oracle(|o| o.inner_step(step))
    }
}
