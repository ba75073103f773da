//! The generic single-process optimizer: a smoothed-gradient oracle, an update rule and a
//! learning-rate schedule (`shared/DESIGN.md`: "a gradient of a smoothed loss followed by an
//! update rule"; 004 §4.3 and 003 §3.2.2 change only "lines 5 and 9" to get momentum or Adam).

use crate::error::{check, site};
use crate::objective::{Cost, Counted};
use crate::optim::{counted_step, Optimizer, Saved, StepState};
use crate::rng::{self, Prng};
use crate::smoothing::GradientOracle;
use crate::update::{Sgd, UpdateRule};
use crate::{Real, Report, Result, Schedule};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// x_{k+1} = rule(x_k, g_k, η_k) with g_k from a [`GradientOracle`] and η_k from a [`Schedule`].
///
/// Built around any oracle with [`SmoothedOptimizer::with_oracle`], or by the presets named after
/// the papers' algorithms ([`EntropySgd::new`](super::EntropySgd::new),
/// [`Heat::new`](super::Heat::new), …). The counter k advances once per successful
/// [`step`](Optimizer::step).
///
/// Configuration (the oracle, the learning-rate schedule), [`StepState`] (k, the generator, the
/// rule's state) and scratch are apart: a step keeps a copy of the State and puts it back if it
/// fails; scratch is never serialized.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    bound = "T: Real, G: Serialize + serde::de::DeserializeOwned, U: Serialize + serde::de::DeserializeOwned"
)]
pub struct SmoothedOptimizer<T: Real, G, U = Sgd> {
    oracle: G,
    // Validated on load; +∞ stored as a unit variant (crate::checkpoint::checked_schedule).
    #[serde(with = "crate::checkpoint::checked_schedule")]
    learning_rate: Schedule<T>,
    state: StepState<U>,
    #[serde(skip)]
    scratch: Scratch<T, U>,
}

/// Rebuilt at will, never serialized: the gradient, x's values before the update (to undo one
/// that overflows), the saved State.
#[derive(Clone, Debug)]
struct Scratch<T: Real, U> {
    grad: DVector<T>,
    x_before: DVector<T>,
    saved: Saved<StepState<U>>,
}

impl<T: Real, U> Default for Scratch<T, U> {
    fn default() -> Self {
        Self {
            grad: DVector::zeros(0),
            x_before: DVector::zeros(0),
            saved: Saved::default(),
        }
    }
}

impl<T: Real, G> SmoothedOptimizer<T, G, Sgd> {
    /// `oracle` followed by plain SGD with learning rate η (constant; see
    /// [`SmoothedOptimizer::learning_rate_schedule`]). Seeded with 0 until
    /// [`SmoothedOptimizer::seed`]. Values are checked before every step
    /// ([`Optimizer::validate`]).
    pub fn with_oracle(oracle: G, learning_rate: T) -> Self {
        Self {
            oracle,
            learning_rate: Schedule::Constant(learning_rate),
            state: StepState {
                k: 0,
                rng: rng::stream(0, 0),
                rule: Sgd,
            },
            scratch: Scratch::default(),
        }
    }
}

impl<T: Real, G, U: UpdateRule<T>> SmoothedOptimizer<T, G, U> {
    /// Seeds the generator: stream 0 of `seed` (the stream of Parle's replica 0, 003 §5.3.1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.state.rng = rng::stream(seed, 0);
        self
    }

    /// Replaces the update rule (e.g. [`Momentum::nesterov`](crate::update::Momentum::nesterov)
    /// or [`Adam`](crate::update::Adam): Entropy-Adam, 003 §3.3.5).
    pub fn with_rule<V: UpdateRule<T>>(self, rule: V) -> SmoothedOptimizer<T, G, V> {
        let StepState { k, rng, .. } = self.state;
        SmoothedOptimizer {
            oracle: self.oracle,
            learning_rate: self.learning_rate,
            state: StepState { k, rng, rule },
            scratch: Scratch::default(),
        }
    }

    /// A learning-rate schedule η_k (values checked to be finite and > 0 when used).
    pub fn learning_rate_schedule(mut self, schedule: Schedule<T>) -> Self {
        self.learning_rate = schedule;
        self
    }

    /// The oracle (its hyper-parameters).
    pub fn oracle(&self) -> &G {
        &self.oracle
    }

    /// The update rule and its state.
    pub fn rule(&self) -> &U {
        &self.state.rule
    }

    /// The generator (its state, for checkpoints and tests of the rollback).
    pub fn rng(&self) -> &Prng {
        &self.state.rng
    }

    /// The State: what steps change and a failed step gives back.
    pub fn state(&self) -> &StepState<U> {
        &self.state
    }

    /// The learning rate η_k at outer step k.
    pub fn learning_rate_at(&self, k: usize) -> T {
        self.learning_rate.at(k)
    }
}

impl<T, G, U, O> Optimizer<T, O> for SmoothedOptimizer<T, G, U>
where
    T: Real,
    U: UpdateRule<T>,
    O: Cost<T> + ?Sized,
    G: for<'c> GradientOracle<T, Counted<'c, O>>,
{
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report> {
        check::dim(loss.dim(), x.len())?;
        let lr = self.checked::<O>()?;
        let k = self.state.k;
        self.scratch.saved.save(&self.state);
        let result = counted_step(k, loss, |loss| self.advance(x, loss, lr));
        if result.is_err() {
            self.scratch.saved.restore(&mut self.state);
        }
        result
    }

    fn steps_taken(&self) -> usize {
        self.state.k
    }

    fn validate(&self) -> Result<()> {
        self.checked::<O>().map(|_| ())
    }
}

impl<T: Real, G, U: UpdateRule<T>> SmoothedOptimizer<T, G, U> {
    /// Every hyper-parameter the next step reads, in one order (what [`Optimizer::validate`]
    /// and the step report alike): the learning rate η_k on success.
    fn checked<O: ?Sized>(&self) -> Result<T>
    where
        G: for<'c> GradientOracle<T, Counted<'c, O>>,
    {
        let k = self.state.k;
        let lr = self.learning_rate.positive_at("learning_rate", k)?;
        self.state.rule.validate()?;
        GradientOracle::<T, Counted<'_, O>>::validate(&self.oracle, k)?;
        Ok(lr)
    }

    /// One step on the State with the checked learning rate `lr`; on `Err` the caller restores
    /// the saved State, and x is as it was.
    fn advance<O: ?Sized>(&mut self, x: &mut DVector<T>, loss: &O, lr: T) -> Result<Report>
    where
        G: GradientOracle<T, O>,
    {
        let k = self.state.k;
        let scratch = &mut self.scratch;
        if scratch.grad.len() != x.len() {
            scratch.grad = DVector::zeros(x.len());
            scratch.x_before = DVector::zeros(x.len());
        }
        let mut report =
            self.oracle
                .estimate(x, loss, k, &mut self.state.rng, &mut scratch.grad)?;
        // One pass: the norm is finite only if every entry is; finite entries can still overflow
        // it, and the update would then not be meaningful either.
        let norm = crate::kernels::norm(scratch.grad.as_slice());
        if !norm.is_finite() {
            check::finite_vec("smoothed gradient", site::OPTIMIZER_STEP, &scratch.grad)?;
            check::finite("smoothed gradient norm", site::OPTIMIZER_STEP, norm)?;
        }
        // A finite gradient can still overflow x (huge η or momentum): undo x, and the caller
        // puts the old State back.
        if !self
            .state
            .rule
            .apply_keeping(x, &scratch.grad, lr, &mut scratch.x_before)
        {
            x.copy_from(&scratch.x_before);
            return Err(crate::Error::NonFinite {
                what: "parameters x_{k+1}",
                during: site::UPDATE_RULE,
            });
        }
        // Commit: nothing below can fail.
        self.oracle.commit();
        report.learning_rate = Some(lr.as_f64());
        report.gradient_norm = Some(norm.as_f64());
        self.state.k += 1;
        Ok(report)
    }
}
