//! Stochastic gradient Langevin dynamics for E_{q_{x,τ}}\[Y\] (000 Alg. 3; Welling & Teh 2011;
//! the inner loop of Entropy-SGD, 004 Alg. 1).

use super::MeanEstimator;
use crate::error::check;
use crate::objective::Gradient;
use crate::rng::{self, Prng};
use crate::sampling::{ChainForm, LangevinChain, RunningMean};
use crate::{Error, Real, Report, Result, Schedule};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// The Langevin step sizes ("temperatures" in 000 Alg. 3) ε_j, j = 1, 2, … within one estimate.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub enum StepSizes<T: Real> {
    /// ε_j = scale / (offset + j); 000 Fig. 4 uses scale = 1, offset = 1000, Fig. 5 offset = 2000.
    Harmonic {
        /// Numerator.
        scale: T,
        /// Offset added to j.
        offset: T,
    },
    /// Any [`Schedule`], indexed by the Langevin step j (≥ 1).
    Schedule(Schedule<T>),
}

impl<T: Real> StepSizes<T> {
    /// ε_j, checked finite and > 0.
    pub fn at(&self, j: usize) -> Result<T> {
        let e = match self {
            StepSizes::Harmonic { scale, offset } => *scale / (*offset + T::lit(j as f64)),
            StepSizes::Schedule(s) => s.at(j),
        };
        check::positive("step_size", e)
    }
}

/// SGLD estimator of E_{q_{x,τ}}\[Y\] (000 Alg. 3):
///
/// x^{j+1} = x^j − (ε_j/2)(∇f(x^j) − (x − x^j)/τ) + η_j,  η_j ~ N(0, ε_j·temperature·I),
///
/// output Σ_j ε_j x^j / Σ_j ε_j over the `samples` iterates after `burn_in` discarded steps.
/// A fresh minibatch ([`Cost::draw_batch`](crate::Cost::draw_batch)) is drawn for every Langevin
/// step. With `warm_start` (default, what 000 §5.1.1 did) the chain starts at its last state from
/// the previous call instead of at x. The index j restarts at 1 on every call, so ε_j are the
/// same at each outer step.
///
/// Reading of the paper's indices: x^0 is the chain's start, J updates produce x^1..x^J, and
/// those J iterates are averaged (000 Alg. 3 loops j = 1..J−1 but averages x^1..x^J).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct Sgld<T: Real> {
    samples: usize,
    burn_in: usize,
    temperature: T,
    step_sizes: StepSizes<T>,
    warm_start: bool,
    chain: Option<DVector<T>>,
    #[serde(skip, default = "langevin")]
    langevin: LangevinChain<T>,
}

/// 000 Alg. 3's chain: kept as the position y (to warm-start it when x moves), averaged with
/// the weights ε_j.
fn langevin<T: Real>() -> LangevinChain<T> {
    LangevinChain::new(ChainForm::Position, RunningMean::Weighted)
}

impl<T: Real> Default for Sgld<T> {
    /// [`Sgld::paper`].
    fn default() -> Self {
        Self::paper()
    }
}

impl<T: Real> Sgld<T> {
    /// The setting of 000 Fig. 4: J = 1000 samples, ε_j = 1/(1000 + j), temperature 1,
    /// warm start on, no burn-in.
    pub fn paper() -> Self {
        Self {
            samples: 1000,
            burn_in: 0,
            temperature: T::one(),
            step_sizes: StepSizes::Harmonic {
                scale: T::one(),
                offset: T::lit(1000.0),
            },
            warm_start: true,
            chain: None,
            langevin: langevin(),
        }
    }

    /// Number J of averaged Langevin iterates (≥ 1; checked when used).
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// Langevin steps run before averaging starts (0 = the paper).
    pub fn burn_in(mut self, burn_in: usize) -> Self {
        self.burn_in = burn_in;
        self
    }

    /// Noise variance multiplier: η_j ~ N(0, ε_j·temperature) (1 = 000 Alg. 3; 0 = noiseless
    /// gradient descent on the surrogate f + |· − x|²/(2τ)). Checked finite and ≥ 0 when used.
    pub fn temperature(mut self, temperature: T) -> Self {
        self.temperature = temperature;
        self
    }

    /// The step sizes ε_j.
    pub fn step_sizes(mut self, step_sizes: StepSizes<T>) -> Self {
        self.step_sizes = step_sizes;
        self
    }

    /// ε_j = 1/(offset + j) (000 Fig. 4: offset 1000; Fig. 5: 2000).
    pub fn harmonic(self, offset: T) -> Self {
        self.step_sizes(StepSizes::Harmonic {
            scale: T::one(),
            offset,
        })
    }

    /// Constant ε_j = ε.
    pub fn constant_step(self, epsilon: T) -> Self {
        self.step_sizes(StepSizes::Schedule(Schedule::Constant(epsilon)))
    }

    /// Warm-start the chain at its previous final state (true = 000 §5.1.1) or restart at x.
    pub fn warm_start(mut self, on: bool) -> Self {
        self.warm_start = on;
        if !on {
            self.chain = None;
        }
        self
    }

    /// The chain's last state (None before the first call or without warm start).
    pub fn chain(&self) -> Option<&DVector<T>> {
        self.chain.as_ref()
    }

    /// Forgets the warm-start state.
    pub fn reset(&mut self) {
        self.chain = None;
    }

    /// Checks the hyper-parameters: samples ≥ 1, burn_in + samples ≤ `usize::MAX`, temperature
    /// finite and ≥ 0, ε_1 > 0.
    pub fn validate(&self) -> Result<()> {
        check::burn_in_fits(self.burn_in, self.samples)?;
        check::count("samples", self.samples)?;
        check::non_negative("temperature", self.temperature)?;
        self.step_sizes.at(1)?;
        Ok(())
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> MeanEstimator<T, O> for Sgld<T> {
    fn validate(&self) -> Result<()> {
        Sgld::validate(self)
    }

    fn estimate(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        mean: &mut DVector<T>,
    ) -> Result<Report> {
        // Lengths first: the loss never sees a wrong-length x, and `mean` is never overrun.
        check::dim_and_output(loss.dim(), x.len(), "mean", mean.len())?;
        Self::validate(self)?;
        let d = check::tau_and_dim(tau, loss.dim(), x.len())?;
        let warm = self
            .chain
            .as_ref()
            .filter(|c| self.warm_start && c.len() == d);
        let warm_started = warm.is_some();
        // The noise of step j comes from per-block streams of (key, j), so the chain is the same
        // for any number of threads.
        let key = rng::fork_key(rng);
        let chain = &mut self.langevin;
        chain.start(x, warm, key, 1);
        let half = T::lit(0.5);
        for j in 1..=self.burn_in + self.samples {
            let eps = self.step_sizes.at(j)?;
            // ∇ of the surrogate f(y) + |y − x|²/(2τ) is ∇f(y) − (x − y)/τ; drift ε/2, noise
            // N(0, ε·temperature).
            let sigma = (eps * self.temperature).sqrt();
            let weight = if j > self.burn_in { eps } else { T::zero() };
            chain
                .step_weighted(loss, x, tau, eps * half, sigma, weight, false, rng)
                .map_err(|_| Error::NonFinite {
                    what: "gradient",
                    during: crate::error::site::SGLD,
                })?;
        }
        check::finite_vec(
            "Langevin chain state",
            crate::error::site::SGLD,
            chain.position(),
        )?;
        chain.mean_into(x, mean);
        check::finite_vec("estimate of E_q[Y]", crate::error::site::SGLD, mean)?;
        // Commit the chain only on success.
        if self.warm_start {
            match &mut self.chain {
                Some(c) if c.len() == d => c.copy_from(chain.position()),
                c => *c = Some(chain.position().clone()),
            }
        }
        let mut report = Report::default();
        report.extras.set("burn_in", self.burn_in as f64);
        report
            .extras
            .set("warm_started", f64::from(u8::from(warm_started)));
        Ok(report)
    }
}
