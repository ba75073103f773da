//! SAM, sharpness-aware minimization (Foret et al. 2021), the baseline the wide-valley methods are
//! compared against: the gradient at the (first-order) worst point of a ball of radius r,
//! ∇f(x + r·g/‖g‖) with g = ∇f(x), both on the same minibatch.

use super::{GradientOracle, SmoothedOptimizer};
use crate::error::{check, site};
use crate::objective::{Batch, Gradient};
use crate::rng::Prng;
use crate::update::Sgd;
use crate::{Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// ≈ ∇ max_{‖e‖≤r} f(x + e) = ∇f(x + r g/‖g‖) (e = 0 when g = 0).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct SamGradient<T: Real> {
    radius: T,
    #[serde(skip)]
    y: DVector<T>,
    #[serde(skip)]
    batch: Batch,
}

impl<T: Real> SamGradient<T> {
    /// Ascent radius r > 0 (Foret et al. use r = 0.05).
    pub fn new(radius: T) -> Result<Self> {
        Ok(Self {
            radius: check::positive("radius", radius)?,
            y: DVector::zeros(0),
            batch: Batch::Full,
        })
    }
}

impl<T: Real> GradientOracle<T> for SamGradient<T> {
    fn estimate<O: Gradient<T>>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        _k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        if self.y.len() != x.len() {
            self.y = DVector::zeros(x.len());
        }
        loss.draw_batch(rng, &mut self.batch);
        loss.gradient(x, &self.batch, out);
        check::finite_vec("gradient at x", site::SAM, out)?;
        let norm = crate::kernels::norm(out.as_slice());
        self.y.copy_from(x);
        if norm > T::zero() {
            self.y.axpy(self.radius / norm, out, T::one());
        }
        loss.gradient(&self.y, &self.batch, out);
        check::finite_vec("gradient at the ascent point", site::SAM, out)?;
        Ok(Report::default())
    }
}

/// Front door for **SAM**: [`SamGradient`] followed by SGD.
#[derive(Clone, Copy, Debug)]
pub struct Sam;

// Front doors return the composed optimizer type, by design (DESIGN.md: thin front doors).
#[allow(clippy::new_ret_no_self)]
impl Sam {
    /// SAM with radius r and learning rate η.
    pub fn new<T: Real>(
        radius: T,
        learning_rate: T,
    ) -> Result<SmoothedOptimizer<T, SamGradient<T>, Sgd>> {
        SmoothedOptimizer::new(SamGradient::new(radius)?, learning_rate)
    }
}
