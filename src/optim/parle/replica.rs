//! One replica of Parle / Elastic-SGD and its two-phase round (prepare, then commit or roll back),
//! what a [`Transport`](super::Transport) carries between the master and the replicas.

use crate::optim::{CopyState, Saved};
use crate::rng::Prng;
use crate::smoothing::{ElasticCoupling, GradientOracle, LocalEntropyGradient};
use crate::update::UpdateRule;
use crate::{Real, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// One replica x^a of Parle / Elastic-SGD: its [`ReplicaState`] (parameters, update rule's
/// state, generator — stream a of the seed), its oracle `G` coupled elastically to the master
/// ([`ElasticCoupling`]) and its scratch.
///
/// A round is a two-phase protocol, which is what a [`Transport`](super::Transport) carries between master and
/// replicas: [`ParleReplica::prepare`] (receive the master, run 5.8a–b, form the 5.8c gradient;
/// the State is saved first), then either [`ParleReplica::commit`] on every replica (apply 5.8c)
/// or [`ParleReplica::rollback`] on every replica if any failed (the saved State is put back);
/// the master then gathers [`ParleReplica::params`]. A commit can still be rolled back until the
/// round is settled, so a replica may commit as soon as its own preparation is done
/// ([`Transport::round`](super::Transport::round)).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real, U: Serialize + serde::de::DeserializeOwned, \
                 G: Serialize + serde::de::DeserializeOwned")]
pub struct ParleReplica<T: Real, U, G = LocalEntropyGradient<T>> {
    pub(super) state: ReplicaState<T, U>,
    pub(super) oracle: ElasticCoupling<T, G>,
    #[serde(skip)]
    pub(super) scratch: ReplicaScratch<T, U>,
}

/// What a round changes and a failed round gives back: x^a, the rule's state, the generator.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real, U: Serialize + serde::de::DeserializeOwned")]
pub struct ReplicaState<T: Real, U> {
    /// The replica's parameters x^a.
    pub x: DVector<T>,
    /// The replica's update rule, with its state.
    pub rule: U,
    /// The replica's generator (stream a of the seed).
    pub rng: Prng,
}

impl<T: Real, U: CopyState> CopyState for ReplicaState<T, U> {
    fn copy_state(&mut self, from: &Self) {
        self.x.copy_state(&from.x);
        self.rule.copy_state(&from.rule);
        self.rng.copy_state(&from.rng);
    }
}

/// Where a replica is in the round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Round {
    /// No round under way (settled or rolled back).
    #[default]
    Idle,
    /// Phase 1 started: the State is saved, the inner loop runs.
    Preparing,
    /// Phase 1 done or failed: the gradient is formed (or the round must be rolled back).
    Prepared,
    /// Phase 2 done: 5.8c applied, undoable until settled.
    Committed,
}

/// Rebuilt at will, never serialized.
#[derive(Clone, Debug)]
pub(super) struct ReplicaScratch<T: Real, U> {
    /// The 5.8c gradient.
    pub(super) grad: DVector<T>,
    /// Its norm, computed by the replica's own worker (in parallel).
    pub(super) grad_norm: T,
    /// The scope γ_k the oracle reported in this round.
    pub(super) scope: Option<f64>,
    /// The State at the start of the round.
    pub(super) saved: Saved<ReplicaState<T, U>>,
    pub(super) round: Round,
}

impl<T: Real, U> Default for ReplicaScratch<T, U> {
    fn default() -> Self {
        Self {
            grad: DVector::zeros(0),
            grad_norm: T::zero(),
            scope: None,
            saved: Saved::default(),
            round: Round::Idle,
        }
    }
}

impl<T: Real, U: UpdateRule<T>, G> ParleReplica<T, U, G> {
    /// A replica starting at `x` with `rule` and generator `rng`, around `oracle`.
    pub(super) fn new(x: DVector<T>, rule: U, rng: Prng, oracle: G) -> Self {
        Self {
            state: ReplicaState { x, rule, rng },
            oracle: ElasticCoupling::new(oracle),
            scratch: ReplicaScratch::default(),
        }
    }

    /// Phase 1 of outer step `k`: from the broadcast `master`, evaluate the oracle at x^a on
    /// `loss` (5.8a–b for the default local-entropy oracle) and form the gradient
    /// g_a + (x^a − x)/ρ_k of 5.8c (ρ_k = `coupling`, +∞ allowed). Changes only scratch and the
    /// generator (the State is saved first).
    pub fn prepare<O: ?Sized>(
        &mut self,
        master: &DVector<T>,
        loss: &O,
        k: usize,
        coupling: T,
    ) -> Result<()>
    where
        G: GradientOracle<T, O>,
    {
        while !self.prepare_slice(master, loss, k, coupling)? {}
        Ok(())
    }

    /// [`ParleReplica::prepare`] one Langevin step at a time: each call runs one step of 5.8a–b
    /// (the first call also begins the loop, the last also forms the 5.8c gradient) and returns
    /// true when phase 1 is complete. The same arguments must be passed to every call of a round.
    /// A transport interleaves these slices of all replicas over its workers.
    pub fn prepare_slice<O: ?Sized>(
        &mut self,
        master: &DVector<T>,
        loss: &O,
        k: usize,
        coupling: T,
    ) -> Result<bool>
    where
        G: GradientOracle<T, O>,
    {
        let first = self.scratch.round != Round::Preparing;
        if first {
            // The State at the start of the round, copied by this replica's own worker.
            self.scratch.saved.save(&self.state);
            if self.scratch.grad.len() != self.state.x.len() {
                self.scratch.grad = DVector::zeros(self.state.x.len());
            }
            self.scratch.round = Round::Preparing;
        }
        let r = self.prepare_step(master, loss, k, coupling, first);
        if !matches!(r, Ok(false)) {
            // Done or failed: a later call starts a new round (after a rollback).
            self.scratch.round = Round::Prepared;
        }
        r
    }

    fn prepare_step<O: ?Sized>(
        &mut self,
        master: &DVector<T>,
        loss: &O,
        k: usize,
        coupling: T,
        first: bool,
    ) -> Result<bool>
    where
        G: GradientOracle<T, O>,
    {
        if first {
            self.oracle.set_master(master, coupling)?;
        }
        let (state, scratch) = (&mut self.state, &mut self.scratch);
        let Some(report) = self.oracle.estimate_slice(
            &state.x,
            loss,
            k,
            &mut state.rng,
            &mut scratch.grad,
            first,
        )?
        else {
            return Ok(false);
        };
        scratch.scope = report.scope;
        scratch.grad_norm = crate::kernels::norm(scratch.grad.as_slice());
        Ok(true)
    }

    /// Phase 2: applies the prepared gradient with learning rate η_k (5.8c). Cannot fail; the
    /// State saved at the start of the round is kept until the round is settled, so that
    /// [`ParleReplica::rollback`] can still undo it (e.g. if some replica's x^a overflowed).
    pub fn commit(&mut self, learning_rate: T) {
        let (state, scratch) = (&mut self.state, &mut self.scratch);
        state.rule.apply(&mut state.x, &scratch.grad, learning_rate);
        scratch.round = Round::Committed;
    }

    /// Undoes this round: puts back the State saved when the round started (nothing if this
    /// replica was not prepared in this round: a transport may stop at the first failing
    /// replica).
    pub fn rollback(&mut self) {
        if self.scratch.round != Round::Idle {
            self.scratch.saved.restore(&mut self.state);
            self.scratch.round = Round::Idle;
        }
    }

    /// Ends a successful round: its saved State must not be restored by a later rollback.
    pub(super) fn settle(&mut self) {
        self.scratch.round = Round::Idle;
    }

    /// The replica's parameters x^a (what the master gathers).
    pub fn params(&self) -> &DVector<T> {
        &self.state.x
    }

    /// The replica's update rule and its state.
    pub fn rule(&self) -> &U {
        &self.state.rule
    }

    /// The replica's generator.
    pub fn rng(&self) -> &Prng {
        &self.state.rng
    }

    /// The replica's State.
    pub fn state(&self) -> &ReplicaState<T, U> {
        &self.state
    }

    /// The gradient prepared by the last [`ParleReplica::prepare`].
    pub fn prepared_gradient(&self) -> &DVector<T> {
        &self.scratch.grad
    }
}
