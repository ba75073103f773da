//! SAM, sharpness-aware minimization (Foret et al. 2021), the baseline the wide-valley methods are
//! compared against, around any oracle (optax's `sam(opt, adv_opt)`): the oracle's gradient at the
//! first-order worst point of a ball of radius r, x + r·g/‖g‖ with g = ∇f(x), g taken on the
//! minibatch the oracle then starts on.

use super::{GradientOracle, PlainGradient};
use crate::error::{check, site};
use crate::objective::{Batch, Cost, Gradient, Parallelism};
use crate::rng::Prng;
use crate::{Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// `inner` evaluated at y = x + r g/‖g‖ (y = x when g = 0), g = ∇f(x) on a fresh minibatch B;
/// the first minibatch `inner` draws is B again (for the default inner oracle, the plain
/// gradient, this is SAM's ∇f(x + r g/‖g‖) on B).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real, G: Serialize + serde::de::DeserializeOwned")]
pub struct SamGradient<T: Real, G = PlainGradient> {
    radius: T,
    inner: G,
    #[serde(skip)]
    y: DVector<T>,
    #[serde(skip)]
    batch: Batch,
}

impl<T: Real> SamGradient<T> {
    /// Ascent radius r > 0 (Foret et al. use r = 0.05) around the plain gradient.
    pub fn new(radius: T) -> Self {
        Self::around(PlainGradient::new(), radius)
    }
}

impl<T: Real, G> SamGradient<T, G> {
    /// Ascent radius r > 0 around any oracle (e.g. HEAT's or the local-entropy gradient),
    /// checked before use ([`GradientOracle::validate`]).
    pub fn around(inner: G, radius: T) -> Self {
        Self {
            radius,
            inner,
            y: DVector::zeros(0),
            batch: Batch::Full,
        }
    }

    /// The wrapped oracle.
    pub fn inner(&self) -> &G {
        &self.inner
    }
}

impl<T, O, G> GradientOracle<T, O> for SamGradient<T, G>
where
    T: Real,
    O: Gradient<T> + ?Sized,
    G: for<'b> GradientOracle<T, FirstBatch<'b, O>>,
{
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        check::positive("radius", self.radius)?;
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
        let pinned = FirstBatch {
            loss,
            batch: &self.batch,
            used: AtomicBool::new(false),
        };
        self.inner.estimate(&self.y, &pinned, k, rng, out)
    }

    fn commit(&mut self) {
        self.inner.commit();
    }

    fn validate(&self, k: usize) -> Result<()> {
        check::positive("radius", self.radius)?;
        GradientOracle::<T, FirstBatch<'_, O>>::validate(&self.inner, k)
    }
}

/// `loss` whose first minibatch draw returns a given batch (consuming no randomness); later draws
/// are the loss's own. Every call is forwarded, the fast paths included.
#[derive(Debug)]
pub struct FirstBatch<'a, O: ?Sized> {
    loss: &'a O,
    batch: &'a Batch,
    used: AtomicBool,
}

impl<T: Real, O: Cost<T> + ?Sized> Cost<T> for FirstBatch<'_, O> {
    fn dim(&self) -> usize {
        self.loss.dim()
    }
    fn cost(&self, x: &DVector<T>, batch: &Batch) -> T {
        self.loss.cost(x, batch)
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        if self.used.swap(true, Ordering::Relaxed) {
            self.loss.draw_batch(rng, batch)
        } else {
            batch.clone_from(self.batch)
        }
    }
    fn as_gaussian_weighted_mean(&self) -> Option<&dyn crate::GaussianWeightedMean<T>> {
        self.loss.as_gaussian_weighted_mean()
    }
    fn parallelism(&self) -> Parallelism {
        self.loss.parallelism()
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> Gradient<T> for FirstBatch<'_, O> {
    fn gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) {
        self.loss.gradient(x, batch, grad)
    }
    fn gradient_with(
        &self,
        x: &DVector<T>,
        batch: &Batch,
        grad: &mut DVector<T>,
        par: Parallelism,
    ) {
        self.loss.gradient_with(x, batch, grad, par)
    }
    fn cost_and_gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) -> T {
        self.loss.cost_and_gradient(x, batch, grad)
    }
    fn as_mean_gradient(&self) -> Option<&dyn crate::MeanGradient<T>> {
        self.loss.as_mean_gradient()
    }
}
