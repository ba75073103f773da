//! The one report of a step: the fields every algorithm shares, and an open list of named extras
//! (argmin's key–value observations).

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::time::Duration;

/// What one successful outer step did, in the papers' words (values as `f64`).
///
/// Every optimizer and two-step scheme returns it from [`Optimizer::step`](super::Optimizer::step);
/// the samplers, Gaussian–KL steps and gradient oracles return a partly filled one that the step
/// completes. Evaluation counts come from counting the calls made on the loss during the step
/// ([`Counted`](crate::objective::Counted)), never from formulas.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// The outer step index k that was performed (0 for the first step).
    pub step: usize,
    /// The learning rate η_k of the outer update, for optimizers that have one.
    pub learning_rate: Option<f64>,
    /// The Gaussian's variance at this step: τ_k of the two-step schemes (000 eq. 6, 18), the
    /// scope γ_k of Entropy-SGD, HEAT, HJ and Parle (003 §3.2.3, eq. 5.10). The crate's one
    /// convention makes them the same quantity.
    pub scope: Option<f64>,
    /// The elastic coupling ρ_k (a variance) of Elastic-SGD and Parle (003 eq. 5.8).
    pub coupling: Option<f64>,
    /// |x_{k+1} − x_k| (Euclidean; for Parle the master's step), where the step knows it without
    /// an extra pass over x ([`Observed`](crate::observe::Observed) measures it otherwise).
    pub step_norm: Option<f64>,
    /// Norm of the gradient fed to the update rule (the mean over replicas for Parle).
    pub gradient_norm: Option<f64>,
    /// An estimate of the objective at x_k, if the step made one: F̂_τ(x_k) =
    /// −log((1/J) Σ e^{−f(y_j)}) with importance sampling (000 eq. 2, Alg. 4), or f(x_{k+1}) on
    /// the full batch when [`Observed::loss_every`](crate::observe::Observed::loss_every) asks.
    pub loss: Option<f64>,
    /// Effective sample size (Σw)²/Σw² of self-normalised importance weights (000 Alg. 4).
    pub ess: Option<f64>,
    /// Calls of the loss's value f(y) during the step (counted).
    pub cost_evaluations: usize,
    /// Gradients ∇f(y) computed during the step (counted; a call that returns the value with the
    /// gradient counts once, here; a batched mean of M gradients counts M).
    pub gradient_evaluations: usize,
    /// Wall time of the step.
    pub step_time: Duration,
    /// Named values particular to one algorithm (e.g. SGLD's `burn_in`, `warm_started`).
    pub extras: Extras,
}

impl Report {
    /// A report that knows only the scope (τ_k or γ_k).
    pub fn with_scope(scope: f64) -> Self {
        Self {
            scope: Some(scope),
            ..Self::default()
        }
    }

    /// The value of the named extra, if set.
    pub fn extra(&self, name: &str) -> Option<f64> {
        self.extras.get(name)
    }

    /// Takes over what `part` (a sampler's, KL step's or oracle's report) knows: its options where
    /// set, its extras. Counts and timing are the driver's and stay as they are.
    pub fn absorb(&mut self, part: &Report) {
        fn take(into: &mut Option<f64>, from: Option<f64>) {
            if from.is_some() {
                *into = from;
            }
        }
        take(&mut self.learning_rate, part.learning_rate);
        take(&mut self.scope, part.scope);
        take(&mut self.coupling, part.coupling);
        take(&mut self.step_norm, part.step_norm);
        take(&mut self.gradient_norm, part.gradient_norm);
        take(&mut self.loss, part.loss);
        take(&mut self.ess, part.ess);
        for (name, value) in part.extras.iter() {
            self.extras.set(name, value);
        }
    }
}

/// Capacity of [`Extras`]: no algorithm reports more named values than this.
pub const EXTRAS_CAPACITY: usize = 8;

/// A small map from names to values, held inline (a step allocates nothing). Setting a name again
/// replaces its value; a name beyond [`EXTRAS_CAPACITY`] is dropped (no algorithm of the crate
/// comes near it).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Extras {
    items: [(&'static str, f64); EXTRAS_CAPACITY],
    len: usize,
}

impl Extras {
    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &'static str, value: f64) {
        if let Some(item) = self.items[..self.len].iter_mut().find(|(n, _)| *n == name) {
            item.1 = value;
        } else if self.len < EXTRAS_CAPACITY {
            self.items[self.len] = (name, value);
            self.len += 1;
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The entries in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.items[..self.len].iter().copied()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Serialize for Extras {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_replace_keep_order_and_cap() {
        let mut e = Extras::default();
        e.set("a", 1.0);
        e.set("b", 2.0);
        e.set("a", 3.0);
        assert_eq!(e.iter().collect::<Vec<_>>(), [("a", 3.0), ("b", 2.0)]);
        const NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        for n in NAMES {
            e.set(n, 0.0);
        }
        assert_eq!(e.len(), EXTRAS_CAPACITY);
        assert_eq!(e.get("b"), Some(2.0));
        assert_eq!(e.get("9"), None);
    }

    #[test]
    fn absorb_takes_what_the_part_knows() {
        let mut r = Report {
            step: 3,
            learning_rate: Some(0.1),
            gradient_evaluations: 7,
            ..Report::default()
        };
        let mut part = Report::with_scope(0.5);
        part.ess = Some(12.0);
        part.extras.set("burn_in", 4.0);
        r.absorb(&part);
        assert_eq!(r.step, 3);
        assert_eq!(r.learning_rate, Some(0.1));
        assert_eq!(r.scope, Some(0.5));
        assert_eq!(r.ess, Some(12.0));
        assert_eq!(r.gradient_evaluations, 7);
        assert_eq!(r.extra("burn_in"), Some(4.0));
    }
}
