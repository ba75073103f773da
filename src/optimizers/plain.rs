//! The loss's own (minibatch) gradient: plain SGD / gradient descent, the baseline and the
//! γ = ρ = ∞, L = n = 1 special case of Parle (003 §5.3.1 (i)).

use super::{GradientOracle, SmoothedOptimizer};
use crate::error::{check, site};
use crate::objective::{Batch, Gradient};
use crate::rng::Prng;
use crate::update::Sgd;
use crate::{Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// ∇f(x) on a fresh minibatch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PlainGradient {
    #[serde(skip)]
    batch: Batch,
}

impl PlainGradient {
    /// The plain gradient oracle.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> GradientOracle<T, O> for PlainGradient {
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        _k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        loss.draw_batch(rng, &mut self.batch);
        loss.gradient(x, &self.batch, out);
        check::finite_vec("gradient", site::GRADIENT_DESCENT, out)?;
        Ok(Report::default())
    }
}

/// Front door for plain (stochastic) gradient descent x ← x − η∇f(x).
#[derive(Clone, Copy, Debug)]
pub struct GradientDescent;

// Front doors return the composed optimizer type, by design (DESIGN.md: thin front doors).
#[allow(clippy::new_ret_no_self)]
impl GradientDescent {
    /// SGD with learning rate η (use `.with_rule(..)` for momentum or Adam).
    pub fn new<T: Real>(learning_rate: T) -> Result<SmoothedOptimizer<T, PlainGradient, Sgd>> {
        SmoothedOptimizer::new(PlainGradient::new(), learning_rate)
    }
}
