//! State apart from configuration and scratch (optax's split). An optimizer's **State** is what
//! its steps change — iterates, velocities, the counter k, the generator — and the only thing a
//! failed step has to give back; its configuration (oracle, rule coefficients, schedules) is
//! never changed by a step, and its scratch (gradients, buffers, the copy below) is rebuilt at
//! will and never serialized.
//!
//! Rollback is "keep the old State": a step first copies the State into a spare of the same
//! shape ([`Saved::save`]; no allocation once the shapes agree), and a failure puts the copy
//! back ([`Saved::restore`]).

use crate::rng::Prng;
use crate::Real;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// Copies a State of the same shape into `self`, reusing its buffers.
pub trait CopyState {
    /// `self` becomes equal to `from` (allocating only if the shapes differ).
    fn copy_state(&mut self, from: &Self);
}

impl<T: Real> CopyState for DVector<T> {
    fn copy_state(&mut self, from: &Self) {
        if self.len() == from.len() {
            self.copy_from(from);
        } else {
            *self = from.clone();
        }
    }
}

impl CopyState for Prng {
    fn copy_state(&mut self, from: &Self) {
        // ChaCha's state is a fixed-size array: no allocation.
        self.clone_from(from);
    }
}

/// The saved copy of a State: [`Saved::save`] before a step, [`Saved::restore`] if it fails.
#[derive(Clone, Debug)]
pub(crate) struct Saved<S> {
    copy: Option<S>,
}

impl<S> Default for Saved<S> {
    fn default() -> Self {
        Self { copy: None }
    }
}

impl<S: Clone + CopyState> Saved<S> {
    /// Keeps a copy of `state` (the buffers of the previous copy are reused).
    pub(crate) fn save(&mut self, state: &S) {
        match &mut self.copy {
            Some(c) => c.copy_state(state),
            None => self.copy = Some(state.clone()),
        }
    }

    /// Puts the kept copy back into `state` (nothing if none was kept).
    pub(crate) fn restore(&self, state: &mut S) {
        if let Some(c) = &self.copy {
            state.copy_state(c);
        }
    }
}

/// The State of a single-process optimizer: the counter k, the generator, the rule's state
/// (velocities, Adam's moments; the rule's few coefficients travel with it).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "U: Serialize + serde::de::DeserializeOwned")]
pub struct StepState<U> {
    /// The counter k: successful outer steps so far.
    pub k: usize,
    /// The optimizer's generator (stream 0 of its seed).
    pub rng: Prng,
    /// The update rule, with its state.
    pub rule: U,
}

impl<U: CopyState> CopyState for StepState<U> {
    fn copy_state(&mut self, from: &Self) {
        self.k = from.k;
        self.rng.copy_state(&from.rng);
        self.rule.copy_state(&from.rule);
    }
}
