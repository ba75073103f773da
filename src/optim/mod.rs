//! The one optimizer interface: everything that steps x — the two-step schemes of 000
//! ([`LocalEntropy`](crate::LocalEntropy), [`HeatRegularization`](crate::HeatRegularization)),
//! Entropy-SGD, HEAT, HJ, SAM, Trivialized-SGD, Elastic-SGD, Parle and plain SGD — is an
//! [`Optimizer`], and every step returns one [`Report`].
//!
//! A step is a one-step transition (as in posteriors): the caller owns the loop, and may swap
//! optimizers, observe them ([`Observed`](crate::observe::Observed)) or box them
//! (`Box<dyn Optimizer<T, O>>`) without caring which family they come from.

mod parle;
mod presets;
mod report;
mod smoothed;

pub use parle::{ElasticSgd, InProcess, Parle, ParleReplica, Transport};
pub use presets::{EntropySgd, GradientDescent, HamiltonJacobi, Heat, Sam, TrivializedSgd};
pub use report::{Extras, Report, EXTRAS_CAPACITY};
pub use smoothed::SmoothedOptimizer;

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
