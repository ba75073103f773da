//! The generic single-process optimizer: a smoothed-gradient oracle, an update rule and a
//! learning-rate schedule (`shared/DESIGN.md`: "a gradient of a smoothed loss followed by an
//! update rule"; 004 §4.3 and 003 §3.2.2 change only "lines 5 and 9" to get momentum or Adam).

use crate::error::{check, site};
use crate::objective::{Cost, Counted};
use crate::optim::{counted_step, Optimizer};
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
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    bound = "T: Real, G: Serialize + serde::de::DeserializeOwned, U: Serialize + serde::de::DeserializeOwned"
)]
pub struct SmoothedOptimizer<T: Real, G, U = Sgd> {
    oracle: G,
    rule: U,
    // Validated on load; +∞ stored as a unit variant (crate::checkpoint::checked_schedule).
    #[serde(with = "crate::checkpoint::checked_schedule")]
    learning_rate: Schedule<T>,
    k: usize,
    rng: Prng,
    #[serde(skip)]
    grad: DVector<T>,
    // Roll-back buffers for an update that overflows x (e.g. a huge η): reused, never reallocated.
    #[serde(skip)]
    x_backup: DVector<T>,
    #[serde(skip)]
    rule_backup: Option<U>,
}

impl<T: Real, G> SmoothedOptimizer<T, G, Sgd> {
    /// `oracle` followed by plain SGD with learning rate η (constant; see
    /// [`SmoothedOptimizer::learning_rate_schedule`]). Seeded with 0 until
    /// [`SmoothedOptimizer::seed`]. Values are checked before every step
    /// ([`Optimizer::validate`]).
    pub fn with_oracle(oracle: G, learning_rate: T) -> Self {
        Self {
            oracle,
            rule: Sgd,
            learning_rate: Schedule::Constant(learning_rate),
            k: 0,
            rng: rng::stream(0, 0),
            grad: DVector::zeros(0),
            x_backup: DVector::zeros(0),
            rule_backup: None,
        }
    }
}

impl<T: Real, G, U: UpdateRule<T>> SmoothedOptimizer<T, G, U> {
    /// Seeds the generator: stream 0 of `seed` (the stream of Parle's replica 0, 003 §5.3.1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = rng::stream(seed, 0);
        self
    }

    /// Replaces the update rule (e.g. [`Momentum::nesterov`](crate::update::Momentum::nesterov)
    /// or [`Adam`](crate::update::Adam): Entropy-Adam, 003 §3.3.5).
    pub fn with_rule<V: UpdateRule<T>>(self, rule: V) -> SmoothedOptimizer<T, G, V> {
        SmoothedOptimizer {
            oracle: self.oracle,
            rule,
            learning_rate: self.learning_rate,
            k: self.k,
            rng: self.rng,
            grad: self.grad,
            x_backup: self.x_backup,
            rule_backup: None,
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
        &self.rule
    }

    /// The generator (its state, for checkpoints and tests of the rollback).
    pub fn rng(&self) -> &Prng {
        &self.rng
    }

    /// The learning rate η_k at outer step k.
    pub fn learning_rate_at(&self, k: usize) -> T {
        self.learning_rate.at(k)
    }

    fn try_step<O: ?Sized>(&mut self, x: &DVector<T>, loss: &O) -> Result<(Report, T)>
    where
        G: GradientOracle<T, O>,
    {
        let info = self
            .oracle
            .estimate(x, loss, self.k, &mut self.rng, &mut self.grad)?;
        // One pass: the norm is finite only if every entry is; finite entries can still overflow
        // it, and the update would then not be meaningful either.
        let norm = crate::kernels::norm(self.grad.as_slice());
        if !norm.is_finite() {
            check::finite_vec("smoothed gradient", site::OPTIMIZER_STEP, &self.grad)?;
            check::finite("smoothed gradient norm", site::OPTIMIZER_STEP, norm)?;
        }
        Ok((info, norm))
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
        Optimizer::<T, O>::validate(self)?;
        counted_step(self.k, loss, |loss| self.counted(x, loss))
    }

    fn steps_taken(&self) -> usize {
        self.k
    }

    fn validate(&self) -> Result<()> {
        self.learning_rate.positive_at("learning_rate", self.k)?;
        self.rule.validate()?;
        GradientOracle::<T, Counted<'_, O>>::validate(&self.oracle, self.k)
    }
}

impl<T: Real, G, U: UpdateRule<T>> SmoothedOptimizer<T, G, U> {
    /// The step of [`Optimizer::step`] on the counted loss.
    fn counted<O: ?Sized>(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report>
    where
        G: GradientOracle<T, O>,
    {
        let lr = self.learning_rate.positive_at("learning_rate", self.k)?;
        if self.grad.len() != x.len() {
            self.grad = DVector::zeros(x.len());
            self.x_backup = DVector::zeros(x.len());
        }
        // ChaCha's state is a fixed-size array: this backup does not allocate.
        let rng_backup = self.rng.clone();
        match self.try_step(x, loss) {
            Ok((info, gradient_norm)) => {
                match &mut self.rule_backup {
                    Some(b) => b.copy_state_from(&self.rule),
                    None => self.rule_backup = Some(self.rule.clone()),
                }
                // A finite gradient can still overflow x (huge η or momentum): undo everything.
                if !self
                    .rule
                    .apply_keeping(x, &self.grad, lr, &mut self.x_backup)
                {
                    x.copy_from(&self.x_backup);
                    if let Some(b) = &self.rule_backup {
                        self.rule.copy_state_from(b);
                    }
                    self.rng = rng_backup;
                    return Err(crate::Error::NonFinite {
                        what: "parameters x_{k+1}",
                        during: site::UPDATE_RULE,
                    });
                }
                // Commit: nothing below can fail.
                self.oracle.commit();
                let mut report = info;
                report.learning_rate = Some(lr.as_f64());
                report.gradient_norm = Some(gradient_norm.as_f64());
                self.k += 1;
                Ok(report)
            }
            Err(e) => {
                self.rng = rng_backup;
                Err(e)
            }
        }
    }
}
