//! One replica of Parle / Elastic-SGD and its two-phase round (prepare, then commit or roll back),
//! what a [`Transport`](super::Transport) carries between the master and the replicas.

use crate::rng::Prng;
use crate::smoothing::{ElasticCoupling, GradientOracle, LocalEntropyGradient};
use crate::update::UpdateRule;
use crate::{Real, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// One replica x^a of Parle / Elastic-SGD: its parameters, its update rule's state, its generator
/// (stream a of the seed) and its oracle `G` coupled elastically to the master
/// ([`ElasticCoupling`]).
///
/// A round is a two-phase protocol, which is what a [`Transport`](super::Transport) carries between master and
/// replicas: [`ParleReplica::prepare`] (receive the master, run 5.8a–b, form the 5.8c gradient; only
/// scratch and the generator change), then either [`ParleReplica::commit`] on every replica (apply
/// 5.8c) or [`ParleReplica::rollback`] on every replica if any failed; the master then gathers
/// [`ParleReplica::params`]. A commit can still be rolled back until the round is settled, so a
/// replica may commit as soon as its own preparation is done ([`Transport::round`](super::Transport::round)).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real, U: Serialize + serde::de::DeserializeOwned, \
                 G: Serialize + serde::de::DeserializeOwned")]
pub struct ParleReplica<T: Real, U, G = LocalEntropyGradient<T>> {
    pub(super) x: DVector<T>,
    pub(super) rule: U,
    pub(super) rng: Prng,
    pub(super) oracle: ElasticCoupling<T, G>,
    // The scope γ_k the oracle reported in this round.
    #[serde(skip)]
    pub(super) scope: Option<f64>,
    #[serde(skip)]
    pub(super) grad: DVector<T>,
    #[serde(skip)]
    pub(super) rng_backup: Option<Prng>,
    // |prepared gradient|, computed by the replica's own worker (in parallel).
    #[serde(skip)]
    pub(super) grad_norm: T,
    // Roll-back buffers for a round whose update overflows (reused, never reallocated).
    #[serde(skip)]
    pub(super) x_backup: DVector<T>,
    #[serde(skip)]
    pub(super) rule_backup: Option<U>,
    #[serde(skip)]
    pub(super) committed: bool,
    // `x_backup` holds the current x^a (written by the last slice of `prepare`).
    #[serde(skip)]
    pub(super) backed_up: bool,
    // Phase 1 under way: the inner loop has been started (see `prepare_slice`).
    #[serde(skip)]
    pub(super) preparing: bool,
}

impl<T: Real, U: UpdateRule<T>, G> ParleReplica<T, U, G> {
    /// Phase 1 of outer step `k`: from the broadcast `master`, evaluate the oracle at x^a on
    /// `loss` (5.8a–b for the default local-entropy oracle) and form the gradient
    /// g_a + (x^a − x)/ρ_k of 5.8c (ρ_k = `coupling`, +∞ allowed). Changes only scratch and the
    /// generator (backed up).
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
        let r = self.prepare_slice_inner(master, loss, k, coupling);
        if !matches!(r, Ok(false)) {
            self.preparing = false;
        }
        r
    }

    fn prepare_slice_inner<O: ?Sized>(
        &mut self,
        master: &DVector<T>,
        loss: &O,
        k: usize,
        coupling: T,
    ) -> Result<bool>
    where
        G: GradientOracle<T, O>,
    {
        if !self.preparing {
            match &mut self.rng_backup {
                Some(b) => b.clone_from(&self.rng),
                None => self.rng_backup = Some(self.rng.clone()),
            }
            if self.grad.len() != self.x.len() {
                self.grad = DVector::zeros(self.x.len());
            }
            if self.x_backup.len() != self.x.len() {
                self.x_backup = DVector::zeros(self.x.len());
            }
            self.backed_up = false;
            self.oracle.set_master(master, coupling)?;
        }
        let first = !std::mem::replace(&mut self.preparing, true);
        let Some(report) =
            self.oracle
                .estimate_slice(&self.x, loss, k, &mut self.rng, &mut self.grad, first)?
        else {
            return Ok(false);
        };
        self.scope = report.scope;
        // The 5.8c gradient's norm, and the roll-back copy of x^a for `commit`, by this
        // replica's own worker (in parallel with the others).
        self.grad_norm = crate::kernels::norm(self.grad.as_slice());
        self.x_backup.copy_from(&self.x);
        self.backed_up = true;
        Ok(true)
    }

    /// Phase 2: applies the prepared gradient with learning rate η_k (5.8c). Cannot fail; the
    /// previous x^a and rule state are kept until the round is settled, so that
    /// [`ParleReplica::rollback`] can still undo it (e.g. if some replica's x^a overflowed).
    pub fn commit(&mut self, learning_rate: T) {
        // `prepare` already copied x^a in its last pass (x^a has not changed since).
        if !std::mem::take(&mut self.backed_up) {
            if self.x_backup.len() != self.x.len() {
                self.x_backup = DVector::zeros(self.x.len());
            }
            self.x_backup.copy_from(&self.x);
        }
        match &mut self.rule_backup {
            Some(b) => b.copy_state_from(&self.rule),
            None => self.rule_backup = Some(self.rule.clone()),
        }
        self.rule.apply(&mut self.x, &self.grad, learning_rate);
        self.committed = true;
    }

    /// Undoes this round: restores the generator if [`ParleReplica::prepare`] ran, and x^a and the
    /// rule's state if [`ParleReplica::commit`] ran.
    pub fn rollback(&mut self) {
        self.preparing = false;
        // Only a replica prepared in this round has a backup (a transport may stop at the first
        // failing replica, so the others were never prepared and must not be restored).
        if let Some(b) = self.rng_backup.take() {
            self.rng = b;
        }
        if self.committed {
            self.x.copy_from(&self.x_backup);
            if let Some(b) = &self.rule_backup {
                self.rule.copy_state_from(b);
            }
            self.committed = false;
        }
    }

    /// Ends a successful round: its backups must not be restored by a later rollback.
    pub(super) fn settle(&mut self) {
        self.rng_backup = None;
        self.committed = false;
    }

    /// The replica's parameters x^a (what the master gathers).
    pub fn params(&self) -> &DVector<T> {
        &self.x
    }

    /// The replica's update rule and its state.
    pub fn rule(&self) -> &U {
        &self.rule
    }

    /// The replica's generator.
    pub fn rng(&self) -> &Prng {
        &self.rng
    }

    /// The gradient prepared by the last [`ParleReplica::prepare`].
    pub fn prepared_gradient(&self) -> &DVector<T> {
        &self.grad
    }
}
