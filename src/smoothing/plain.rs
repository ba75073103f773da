//! The loss's own (minibatch) gradient: plain SGD / gradient descent, the baseline and the
//! γ = ρ = ∞, L = n = 1 special case of Parle (003 §5.3.1 (i)).

use super::GradientOracle;
use crate::error::{check, site};
use crate::objective::{Batch, Gradient};
use crate::rng::Prng;
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
