//! Gaussian–KL steps (000 §5): given x_k, τ and the loss, produce x_{k+1}.
//!
//! The two schemes of 000 differ only in which argument of the Kullback–Leibler divergence the
//! step minimizes over the Gaussian mean x:
//! - [`MeanSeeking`]: x_{k+1} = argmin_x KL(q_{x_k,τ} ‖ φ_{x,τ}) = E_{q_{x_k,τ}}\[Y\]
//!   (000 Alg. 1 step 2, §5.1, moment matching), the expectation supplied by a
//!   [`MeanEstimator`];
//! - [`ModeSeeking`]: a minimizer of x ↦ KL(φ_{x,τ} ‖ q_{x_k,τ}) (000 Alg. 2 step 2, §5.2),
//!   by default by Robbins–Monro ([`RobbinsMonro`], 000 Alg. 5, eq. 17). Since
//!   KL(φ_{x,τ} ‖ q_{x_k,τ}) = F^H_τ(x) + |x − x_k|²/(2τ) + const, it is a proximal step on F^H_τ.

mod robbins_monro;

pub use robbins_monro::{GaussianExpectation, RobbinsMonro};

use crate::rng::Prng;
use crate::sampling::MeanEstimator;
use crate::{Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// One Gaussian–KL step of 000 §5: x_{k+1} from x_k (Alg. 1 or Alg. 2, step 2).
///
/// Contract: on `Err` the step's persistent state is unchanged and `x_next` may hold garbage.
pub trait KlStep<T: Real, O: ?Sized> {
    /// Writes x_{k+1} into `x_next` (length d) and returns what the step knows of it (see
    /// [`MeanEstimator::estimate`]).
    fn step(
        &mut self,
        x_k: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        x_next: &mut DVector<T>,
    ) -> Result<Report>;

    /// Checks the step's own hyper-parameters (see [`MeanEstimator::validate`]).
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// A solver for the mode-seeking problem min_x KL(φ_{x,τ} ‖ q_{x_k,τ}) (000 §5.2).
pub trait ModeSeekingSolver<T: Real, O: ?Sized> {
    /// Writes an (approximate) minimizer into `x_next`, starting from x_k.
    fn minimize(
        &mut self,
        x_k: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        x_next: &mut DVector<T>,
    ) -> Result<Report>;

    /// Checks the solver's own hyper-parameters (see [`MeanEstimator::validate`]).
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// Mean-seeking step x_{k+1} = E_{q_{x_k,τ}}\[Y\] = argmin_x KL(q_{x_k,τ} ‖ φ_{x,τ})
/// (000 Alg. 1, §5.1). By 000 eq. 12 this is gradient descent on F_τ with learning rate τ.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MeanSeeking<E> {
    estimator: E,
}

impl<E> MeanSeeking<E> {
    /// Mean-seeking with the given estimator of E_q\[Y\] (SGLD, importance sampling, quadrature).
    pub fn new(estimator: E) -> Self {
        Self { estimator }
    }
    /// The estimator.
    pub fn estimator(&self) -> &E {
        &self.estimator
    }
    /// The estimator, mutably.
    pub fn estimator_mut(&mut self) -> &mut E {
        &mut self.estimator
    }
}

impl<T: Real, O: ?Sized, E: MeanEstimator<T, O>> KlStep<T, O> for MeanSeeking<E> {
    fn step(
        &mut self,
        x_k: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        x_next: &mut DVector<T>,
    ) -> Result<Report> {
        self.estimator.estimate(x_k, tau, loss, rng, x_next)
    }

    fn validate(&self) -> Result<()> {
        self.estimator.validate()
    }
}

/// Mode-seeking step: x_{k+1} ∈ argmin_x KL(φ_{x,τ} ‖ q_{x_k,τ}) (000 Alg. 2, §5.2), solved by
/// a [`ModeSeekingSolver`] (default [`RobbinsMonro`], 000 Alg. 5).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ModeSeeking<S> {
    solver: S,
}

impl<S> ModeSeeking<S> {
    /// Mode-seeking with the given solver.
    pub fn new(solver: S) -> Self {
        Self { solver }
    }
    /// The solver.
    pub fn solver(&self) -> &S {
        &self.solver
    }
    /// The solver, mutably.
    pub fn solver_mut(&mut self) -> &mut S {
        &mut self.solver
    }
}

impl<T: Real, O: ?Sized, S: ModeSeekingSolver<T, O>> KlStep<T, O> for ModeSeeking<S> {
    fn step(
        &mut self,
        x_k: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        x_next: &mut DVector<T>,
    ) -> Result<Report> {
        self.solver.minimize(x_k, tau, loss, rng, x_next)
    }

    fn validate(&self) -> Result<()> {
        self.solver.validate()
    }
}
