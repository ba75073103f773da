//! The two-step schemes of 000: one type, [`TwoStep`], generic over the Gaussian–KL step.
//!
//! Each outer step k (000 Alg. 1 and Alg. 2):
//! 1. define q_{x_k,τ_k}(y) ∝ exp(−f(y) − |y − x_k|²/(2τ_k)) (eq. 6);
//! 2. set x_{k+1} by a Gaussian–KL step ([`KlStep`]): mean-seeking (minimizes local entropy F_τ,
//!    Alg. 1, Thm 2) or mode-seeking (minimizes heat regularization F^H_τ, Alg. 2, Thm 4).
//!
//! [`LocalEntropy`] and [`HeatRegularization`] are the two front doors:
//!
//! ```
//! use wide_valleys::{LocalEntropy, HeatRegularization, objectives::Quadratic};
//! use nalgebra::{dmatrix, dvector};
//! let loss = Quadratic::new(dmatrix![2.0, 0.0; 0.0, 1.0], dvector![1.0, -1.0])?;
//! let mut x = dvector![1.0, 1.0];
//! let report = LocalEntropy::new(0.1).step(&mut x, &loss)?;
//! assert_eq!((report.step, report.scope), (0, Some(0.1)));
//! HeatRegularization::new(0.1).seed(3).step(&mut x, &loss)?;
//! # Ok::<(), wide_valleys::Error>(())
//! ```

use crate::error::{check, site};
use crate::kl::{KlStep, MeanSeeking, ModeSeeking, RobbinsMonro};
use crate::objective::{Cost, Counted};
use crate::optim::{counted_step, Optimizer};
use crate::rng::{self, Prng};
use crate::sampling::Sgld;
use crate::{Real, Report, Result, Schedule};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// Minimization of local entropy F_τ (000 eq. 2) by 000 Alg. 1: x_{k+1} = E_{q_{x_k,τ}}\[Y\],
/// estimated by `E` (default SGLD, 000 Alg. 3). Equivalently gradient descent on F_τ with learning
/// rate τ (000 eq. 12); F_τ decreases monotonically with exact expectations (000 Thm 2).
pub type LocalEntropy<T = f64, E = Sgld<T>> = TwoStep<T, MeanSeeking<E>>;

/// Minimization of heat regularization F^H_τ = f ∗ φ_{0,τ} (000 §2.2) by 000 Alg. 2: x_{k+1}
/// minimizes KL(φ_{x,τ} ‖ q_{x_k,τ}), by default with Robbins–Monro (000 Alg. 5, eq. 17).
/// F^H_τ decreases monotonically with exact minimization (000 Thm 4).
pub type HeatRegularization<T = f64, S = RobbinsMonro<T>> = TwoStep<T, ModeSeeking<S>>;

/// A two-step Gaussian–KL scheme (000 §5): alternately define q_{x_k,τ_k} (eq. 6) and take a
/// Gaussian–KL step `K` ([`MeanSeeking`] or [`ModeSeeking`]).
///
/// Holds the τ schedule and the KL step (configuration, with the KL step's own state, e.g. SGLD's
/// warm-start chain, which it commits only on success), the [`SchemeState`] (the counter k,
/// advanced once per successful [`TwoStep::step`], and the generator) and scratch. A step works
/// on a copy of the State and keeps it only on success: after any error, x and all of this are
/// exactly as before the call.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Real, K: Serialize",
    deserialize = "T: Real, K: Deserialize<'de>"
))]
pub struct TwoStep<T: Real, K> {
    // Validated on load; +∞ stored as a unit variant (crate::checkpoint::checked_schedule).
    #[serde(with = "crate::checkpoint::checked_schedule")]
    tau: Schedule<T>,
    kl: K,
    state: SchemeState,
    #[serde(skip, default = "empty")]
    next: DVector<T>,
}

/// The State of a two-step scheme: what a step changes besides the KL step's own state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemeState {
    /// The counter k: successful outer steps so far.
    pub k: usize,
    /// The scheme's generator (every random draw of the scheme comes from it).
    pub rng: Prng,
}

fn empty<T: Real>() -> DVector<T> {
    DVector::zeros(0)
}

impl<T: Real> TwoStep<T, MeanSeeking<Sgld<T>>> {
    /// Local entropy (000 Alg. 1) with variance τ and SGLD at the paper's setting (000 Fig. 4),
    /// seed 0. τ is checked (finite, > 0) by [`Optimizer::validate`] and
    /// before every step.
    pub fn new(tau: T) -> Self {
        Self::with_kl_step(tau, MeanSeeking::new(Sgld::paper()))
    }
}

impl<T: Real> TwoStep<T, ModeSeeking<RobbinsMonro<T>>> {
    /// Heat regularization (000 Alg. 2) with variance τ and Robbins–Monro at the paper's
    /// setting (c = 0.1, α = 0.7, M = J = 30; 000 Fig. 4), seed 0. τ is checked before every step.
    pub fn new(tau: T) -> Self {
        Self::with_kl_step(tau, ModeSeeking::new(RobbinsMonro::paper()))
    }
}

impl<T: Real, E> TwoStep<T, MeanSeeking<E>> {
    /// Replaces the estimator of E_q\[Y\] (SGLD, importance sampling, quadrature; 000 §5.1).
    pub fn estimator<E2>(self, estimator: E2) -> TwoStep<T, MeanSeeking<E2>> {
        self.kl_step(MeanSeeking::new(estimator))
    }
}

impl<T: Real, S> TwoStep<T, ModeSeeking<S>> {
    /// Replaces the mode-seeking solver (e.g. a differently configured [`RobbinsMonro`]).
    pub fn solver<S2>(self, solver: S2) -> TwoStep<T, ModeSeeking<S2>> {
        self.kl_step(ModeSeeking::new(solver))
    }
}

impl<T: Real, K> TwoStep<T, K> {
    /// A scheme with constant τ (a variance) and any KL step; seed 0.
    pub fn with_kl_step(tau: T, kl: K) -> Self {
        Self {
            tau: Schedule::from(tau),
            kl,
            state: SchemeState {
                k: 0,
                rng: rng::seeded(0),
            },
            next: DVector::zeros(0),
        }
    }

    /// Re-seeds the random generator (every random draw of the scheme comes from it).
    pub fn seed(mut self, seed: u64) -> Self {
        self.state.rng = rng::seeded(seed);
        self
    }

    /// τ_k from a schedule: [`Schedule::constant`], [`Schedule::eq18`] (000 eq. 18), or any
    /// closure ([`Schedule::from_fn`]). Values are checked at each step.
    pub fn tau_schedule(mut self, tau: Schedule<T>) -> Self {
        self.tau = tau;
        self
    }

    /// Replaces the Gaussian–KL step (which may change the scheme's type).
    pub fn kl_step<K2>(self, kl: K2) -> TwoStep<T, K2> {
        TwoStep {
            tau: self.tau,
            kl,
            state: self.state,
            next: self.next,
        }
    }

    /// The number k of outer steps completed.
    pub fn k(&self) -> usize {
        self.state.k
    }

    /// The State (k and the generator).
    pub fn state(&self) -> &SchemeState {
        &self.state
    }

    /// τ at the next step, checked.
    pub fn tau(&self) -> Result<T> {
        self.tau.positive_at("tau", self.state.k)
    }

    /// The KL step.
    pub fn kl(&self) -> &K {
        &self.kl
    }

    /// The KL step, mutably (e.g. to reset SGLD's chain).
    pub fn kl_mut(&mut self) -> &mut K {
        &mut self.kl
    }

    /// One outer step x_k → x_{k+1} (000 Alg. 1 or Alg. 2, one iteration), in place.
    ///
    /// Errors (x and the scheme unchanged, bit for bit): τ_k not finite and > 0
    /// ([`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter)), `x.len()` ≠
    /// `loss.dim()` ([`Error::DimensionMismatch`](crate::Error::DimensionMismatch)), non-finite x,
    /// loss, gradient or estimate ([`Error::NonFinite`](crate::Error::NonFinite)), or an invalid
    /// estimator setting.
    pub fn step<O>(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report>
    where
        O: Cost<T> + ?Sized,
        K: for<'c> KlStep<T, Counted<'c, O>>,
    {
        let tau = self.tau()?;
        KlStep::<T, Counted<'_, O>>::validate(&self.kl)?;
        check::dim(loss.dim(), x.len())?;
        check::finite_vec("parameters x_k", site::TWO_STEP, x)?;
        if self.next.len() != x.len() {
            self.next = DVector::zeros(x.len());
        }
        // Work on a copy of the State (a fixed-size copy: k and ChaCha's array); keep it only on
        // success, so a failure keeps the old State.
        let mut state = self.state.clone();
        let (kl, next) = (&mut self.kl, &mut self.next);
        let mut report = counted_step(state.k, loss, |loss| {
            let part = kl.step(x, tau, loss, &mut state.rng, next)?;
            check::finite_vec("x_{k+1}", site::TWO_STEP, next)?;
            Ok(part)
        })?;
        let step_norm = x
            .iter()
            .zip(self.next.iter())
            .map(|(a, b)| {
                let d = (*a - *b).as_f64();
                d * d
            })
            .sum::<f64>()
            .sqrt();
        x.copy_from(&self.next);
        state.k += 1;
        self.state = state;
        report.scope = Some(tau.as_f64());
        report.step_norm = Some(step_norm);
        Ok(report)
    }
}

impl<T: Real, K, O> Optimizer<T, O> for TwoStep<T, K>
where
    O: Cost<T> + ?Sized,
    K: for<'c> KlStep<T, Counted<'c, O>>,
{
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report> {
        TwoStep::step(self, x, loss)
    }

    fn steps_taken(&self) -> usize {
        self.state.k
    }

    fn validate(&self) -> Result<()> {
        self.tau()?;
        KlStep::<T, Counted<'_, O>>::validate(&self.kl)
    }
}
