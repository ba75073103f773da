//! The one optimizer interface and the optimizers: everything that steps x — the two-step
//! schemes of 000 ([`LocalEntropy`](crate::LocalEntropy),
//! [`HeatRegularization`](crate::HeatRegularization)), Entropy-SGD, HEAT, HJ, SAM,
//! Trivialized-SGD, Elastic-SGD, Parle and plain SGD — is an [`Optimizer`], and every step
//! returns one [`Report`].
//!
//! A step is a one-step transition (as in posteriors): the caller owns the loop, and may swap
//! optimizers, observe them ([`Observed`](crate::observe::Observed)) or box them
//! (`Box<dyn Optimizer<T, O>>`) without caring which family they come from.
//!
//! | optimizer | = | paper |
//! |---|---|---|
//! | [`SmoothedOptimizer`] | any [`GradientOracle`](crate::smoothing::GradientOracle) + an [`UpdateRule`](crate::update::UpdateRule) + a learning-rate [`Schedule`](crate::Schedule) | DESIGN.md |
//! | [`EntropySgd`] / Entropy-Adam | local-entropy gradient (Langevin inner loop) + SGD / Adam | 004 Alg. 1; 003 Alg. 2, §3.3.5 |
//! | [`HamiltonJacobi`] | Hopf–Lax gradient + SGD | 003 eq. 4.42 |
//! | [`Heat`] | heat gradient + SGD | 003 eq. 4.43 |
//! | [`Sam`] | SAM gradient + SGD | Foret et al. 2021 |
//! | [`TrivializedSgd`] | trivialized gradient + SGD | 003 §2.3.3 Alg. 1 |
//! | [`GradientDescent`] | plain gradient + SGD | — |
//! | [`Parle`] | n replicas, each any oracle + elastic coupling; master = their mean | 003 eq. 5.8, §5.3–5.5 |
//! | [`ElasticSgd`] | Parle over the plain gradient | 003 eq. 5.4 |
//!
//! ## Conventions
//! - γ is a **variance** (003's convention, the crate's τ); 004's γ is a coupling strength:
//!   `gamma_here = 1 / gamma_004`.
//! - One counter k per optimizer advances exactly once per **outer** step (after a successful
//!   step); every schedule (γ_k, ρ_k, η_k) is read at k.
//! - Randomness: the optimizer owns a [`Prng`](crate::Prng) seeded with `.seed(u64)`; a
//!   single-process optimizer uses stream 0 of that seed, replica a of [`Parle`] uses stream a,
//!   so Parle with n = 1 draws exactly the numbers Entropy-SGD draws (003 §5.3.1 bit for bit).
//! - Validation, one policy for the crate: constructors and setters take values as given;
//!   [`Optimizer::validate`] checks everything the next step uses, and every step runs the same
//!   checks first. A failed step returns a typed [`Error`](crate::Error) naming the parameter and
//!   its range, and leaves x, the rule's state, the counter and the generator as they were.
//!
//! ```
//! use nalgebra::dvector;
//! use wide_valleys::objectives::GaussianMixture;
//! use wide_valleys::optim::{EntropySgd, GradientDescent};
//! use wide_valleys::sampling::{Averaging, ExponentialSgld};
//! use wide_valleys::{LocalEntropyGradient, Optimizer, Schedule};
//!
//! // A sharp deep minimum at −2 and a wide shallow one at 1.5.
//! let f = GaussianMixture::<f64>::wide_and_sharp();
//! let (mut x_gd, mut x_es) = (dvector![-1.8], dvector![-1.8]);
//! let mut gd = GradientDescent::new(0.01).seed(1);
//! // Scope γ_k = 2·0.98^k clipped at 0.1 (a variance), L = 50 Langevin steps, scaled form.
//! let chain = ExponentialSgld::new(50)
//!     .langevin_step(0.12)
//!     .thermal_noise(1.0)
//!     .averaging(Averaging::new_sample_weight(0.1));
//! let scope = Schedule::geometric(2.0, 0.98).clipped(0.1, 10.0);
//! let oracle = LocalEntropyGradient::with_estimator(scope, chain).scaled(true);
//! let mut es = EntropySgd::with_oracle(oracle, 0.5).seed(1);
//! for _ in 0..400 {
//!     gd.step(&mut x_gd, &f)?;
//!     es.step(&mut x_es, &f)?;
//! }
//! assert!((x_gd[0] + 2.0).abs() < 0.1); // gradient descent: the sharp minimum
//! assert!(x_es[0] > 0.5); // Entropy-SGD: the wide valley
//! # Ok::<(), wide_valleys::Error>(())
//! ```

mod parle;
mod presets;
mod report;
mod smoothed;
mod state;

pub use parle::{ElasticSgd, InProcess, Parle, ParleReplica, ReplicaState, Transport};
pub use presets::{EntropySgd, GradientDescent, HamiltonJacobi, Heat, Sam, TrivializedSgd};
pub use report::{Extras, Report, EXTRAS_CAPACITY};
pub use smoothed::SmoothedOptimizer;
pub(crate) use state::Saved;
pub use state::{CopyState, StepState};

use crate::objective::{Counted, Counts};
use crate::{Real, Result};
use nalgebra::DVector;
use std::time::Instant;

/// An optimizer of a loss `O`: one outer step at a time.
///
/// `O` is unbounded here; each optimizer states what it needs of the loss (importance sampling
/// needs only [`Cost`](crate::Cost), SGLD and every first-order method
/// [`Gradient`](crate::Gradient)). The optimizer owns its random generator and draws minibatches
/// itself through [`Cost::draw_batch`](crate::Cost::draw_batch).
///
/// Contract: on `Err`, x and the optimizer's state (iterates, chains, momenta, generator, the
/// counter k) are exactly as before the call.
pub trait Optimizer<T: Real, O: ?Sized> {
    /// One outer step on `x` (x_k → x_{k+1}, in place).
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report>;

    /// The counter k: number of successful outer steps so far.
    fn steps_taken(&self) -> usize;

    /// Checks every hyper-parameter the next step will use (schedules at the current k, sample
    /// counts, step sizes, ranges), with the typed error that step would return, without
    /// touching the loss or the state: constructors and setters take values as given, and this
    /// (or the step itself) says which one is wrong and what is allowed.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// A boxed optimizer (`Box<dyn Optimizer<T, O>>`, chosen at run time) is an optimizer.
impl<T: Real, O: ?Sized, S: Optimizer<T, O> + ?Sized> Optimizer<T, O> for Box<S> {
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report> {
        (**self).step(x, loss)
    }

    fn steps_taken(&self) -> usize {
        (**self).steps_taken()
    }

    fn validate(&self) -> Result<()> {
        (**self).validate()
    }
}

/// A borrowed optimizer is an optimizer (e.g. to observe one without giving it away).
impl<T: Real, O: ?Sized, S: Optimizer<T, O> + ?Sized> Optimizer<T, O> for &mut S {
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report> {
        (**self).step(x, loss)
    }

    fn steps_taken(&self) -> usize {
        (**self).steps_taken()
    }

    fn validate(&self) -> Result<()> {
        (**self).validate()
    }
}

/// What every step does around the algorithm: counts the calls made on the loss, times the step,
/// and completes the algorithm's report with the counter k, the counts and the time.
pub(crate) fn counted_step<O: ?Sized>(
    k: usize,
    loss: &O,
    step: impl FnOnce(&Counted<'_, O>) -> Result<Report>,
) -> Result<Report> {
    let started = Instant::now();
    let counts = Counts::default();
    let mut report = step(&Counted::new(loss, &counts))?;
    report.step = k;
    report.cost_evaluations = counts.costs();
    report.gradient_evaluations = counts.gradients();
    report.step_time = started.elapsed();
    Ok(report)
}
