//! SGLD with an exponential average (004 Alg. 1 lines 1–6; 003 Alg. 2 lines 1–5, eq. 4.40,
//! 5.8a–b): the inner loop of Entropy-SGD, HJ and Parle as an estimator of E_{q_{x,γ}}\[Y\].

use super::MeanEstimator;
use crate::error::check;
use crate::objective::Gradient;
use crate::rng::{self, Prng};
use crate::sampling::{Averaging, ChainForm, LangevinChain, NoiseScale, RunningMean};
use crate::{Error, Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// L Langevin steps y ← y − η′(∇f(y) + (y − x)/γ) + σ·N(0, I) from y = x, a fresh minibatch per
/// step, averaged as μ ← (1 − a)·μ + a·y from μ₀ = x: E_{q_{x,γ}}\[Y\] ≈ μ (004 Alg. 1 lines 1–6,
/// with 004's coupling γ₀₀₄ = 1/γ).
///
/// The chain is kept as the displacement y − x (d₀ = 0), which makes the reductions of 003
/// §5.3.1 exact: one step of size η′ = 1 with γ = ∞, no noise and the last iterate gives
/// μ − x = −∇f(x) bit for bit.
///
/// Defaults: η′ = 0.1 (003 §4.6.1.1, η_y = 0.1), β⁻¹ = 10⁻⁸ (003 §4.6.1.1), noise
/// [`NoiseScale::TwoStepTemperature`], new-sample weight 0.75 (003's α = 0.25).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct ExponentialSgld<T: Real> {
    langevin_steps: usize,
    langevin_step: T,
    thermal_noise: T,
    noise_scale: NoiseScale,
    averaging: Averaging<T>,
    #[serde(skip, default = "chain")]
    chain: LangevinChain<T>,
    // The estimate under way (between its first and last slice): σ.
    #[serde(skip)]
    run: Option<T>,
}

fn chain<T: Real>() -> LangevinChain<T> {
    LangevinChain::new(ChainForm::Displacement, RunningMean::last_iterate())
}

impl<T: Real> ExponentialSgld<T> {
    /// L ≥ 1 Langevin steps with the defaults above. As everywhere in the crate, values are
    /// taken as given and checked before use ([`MeanEstimator::validate`], every estimate).
    pub fn new(langevin_steps: usize) -> Self {
        Self {
            langevin_steps,
            langevin_step: T::lit(0.1),
            thermal_noise: T::lit(1e-8),
            noise_scale: NoiseScale::TwoStepTemperature,
            averaging: Averaging::old_average_weight(T::lit(0.25)),
            chain: chain(),
            run: None,
        }
    }

    /// The Langevin step η′ > 0 (004's η′, 003 Alg. 2's η, eq. 4.40's η_y, 5.8a's η⁽⁰⁾).
    pub fn langevin_step(mut self, step: T) -> Self {
        self.langevin_step = step;
        self
    }

    /// The thermal noise β⁻¹ ≥ 0 (0: no injected noise, only minibatch noise, 003 §5.2.2).
    pub fn thermal_noise(mut self, thermal_noise: T) -> Self {
        self.thermal_noise = thermal_noise;
        self
    }

    /// How the noise scales with η′ and β⁻¹ (see [`NoiseScale`]).
    pub fn noise_scale(mut self, scale: NoiseScale) -> Self {
        self.noise_scale = scale;
        self
    }

    /// The exponential averaging of the iterates (see [`Averaging`]).
    pub fn averaging(mut self, averaging: Averaging<T>) -> Self {
        self.averaging = averaging;
        self
    }

    /// The number L of Langevin steps.
    pub fn langevin_steps(&self) -> usize {
        self.langevin_steps
    }

    /// One step of the estimate under way (the first call starts it); true after the L-th.
    fn advance<O: Gradient<T> + ?Sized>(
        &mut self,
        x: &DVector<T>,
        gamma: T,
        loss: &O,
        rng: &mut Prng,
        first: bool,
    ) -> Result<bool> {
        let sigma = match (first, self.run) {
            (false, Some(sigma)) => sigma,
            (false, None) => {
                return Err(Error::InvalidHyperParameter {
                    name: "langevin_steps",
                    value: 0.0,
                    reason: "the inner loop was not started (internal: first slice missing)",
                })
            }
            (true, _) => {
                // Checked at every estimate (values are taken as given; a loaded checkpoint
                // did not come through a constructor): L = 0 would never reach its last step.
                MeanEstimator::<T, O>::validate(self)?;
                check::positive_or_inf("scope", gamma)?;
                let sigma = self
                    .noise_scale
                    .sigma(self.langevin_step, self.thermal_noise);
                // No draw at all when σ = 0, so noiseless variants consume only minibatch draws.
                let key = if sigma > T::zero() {
                    rng::fork_key(rng)
                } else {
                    0
                };
                self.chain
                    .set_running_mean(RunningMean::Exponential(self.averaging));
                self.chain.start(x, None, key, 0);
                self.run = Some(sigma);
                sigma
            }
        };
        let l = self.chain.steps();
        let last = l + 1 == self.langevin_steps;
        let r = self.chain.step_weighted(
            loss,
            x,
            gamma,
            self.langevin_step,
            sigma,
            T::one(),
            last,
            rng,
        );
        if let Err(e) = r {
            self.run = None;
            return Err(match e {
                Error::NonFinite { .. } => Error::NonFinite {
                    what: "gradient",
                    during: crate::error::site::LANGEVIN,
                },
                e => e,
            });
        }
        if last {
            self.run = None;
        }
        Ok(last)
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> MeanEstimator<T, O> for ExponentialSgld<T> {
    fn estimate(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        mean: &mut DVector<T>,
    ) -> Result<Report> {
        let report = self.estimate_displacement(x, tau, loss, rng, mean)?;
        *mean += x;
        Ok(report)
    }

    fn estimate_displacement(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        let mut first = true;
        loop {
            if let Some(report) = self.displacement_slice(x, tau, loss, rng, out, first)? {
                return Ok(report);
            }
            first = false;
        }
    }

    fn slices(&self) -> usize {
        self.langevin_steps
    }

    fn validate(&self) -> Result<()> {
        check::count("langevin_steps", self.langevin_steps)?;
        check::positive("langevin_step", self.langevin_step)?;
        check::non_negative("thermal_noise", self.thermal_noise)?;
        self.averaging.validate()
    }

    fn allows_infinite_tau(&self) -> bool {
        true
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
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        if !self.advance(x, tau, loss, rng, first)? {
            return Ok(None);
        }
        out.copy_from(self.chain.raw_mean());
        Ok(Some(Report::default()))
    }
}
