//! HEAT: the gradient of the heat-regularized loss F^H_γ = f ∗ φ_{0,γ} as the average of L
//! gradients at Gaussian perturbations of x (003 eq. 4.43, §4.6.1.3; 000 §2.2).

use super::GradientOracle;
use crate::error::{check, site};
use crate::kernels;
use crate::objective::{Batch, Gradient};
use crate::rng::{self, Prng};
use crate::{Real, Report, Result, Schedule};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// ∇F^H_γ(x) ≈ (1/L) Σᵢ ∇f(x + εᵢ), εᵢ ~ N(0, γI), a fresh minibatch per sample (003 eq. 4.43).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct HeatGradient<T: Real> {
    // Validated on load; +∞ stored as a unit variant (crate::checkpoint::checked_schedule).
    #[serde(with = "crate::checkpoint::checked_schedule")]
    scope: Schedule<T>,
    samples: usize,
    #[serde(skip)]
    y: DVector<T>,
    #[serde(skip)]
    g: DVector<T>,
    #[serde(skip)]
    batch: Batch,
}

impl<T: Real> HeatGradient<T> {
    /// Perturbation variance γ (finite, > 0; constant or schedule) and L ≥ 1 samples (003: L = 20),
    /// checked before use ([`GradientOracle::validate`]).
    pub fn new(scope: impl Into<Schedule<T>>, samples: usize) -> Self {
        Self {
            scope: scope.into(),
            samples,
            y: DVector::zeros(0),
            g: DVector::zeros(0),
            batch: Batch::Full,
        }
    }

    /// γ_k at outer step k.
    pub fn scope_at(&self, k: usize) -> T {
        self.scope.at(k)
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> GradientOracle<T, O> for HeatGradient<T> {
    fn validate(&self, k: usize) -> Result<()> {
        self.scope.positive_at("scope", k)?;
        check::count("samples", self.samples)?;
        Ok(())
    }

    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        // As `validate`, in its order.
        let gamma = self.scope.positive_at("scope", k)?;
        check::count("samples", self.samples)?;
        if self.y.len() != x.len() {
            self.y = DVector::zeros(x.len());
            self.g = DVector::zeros(x.len());
        }
        let sd = gamma.sqrt();
        out.fill(T::zero());
        // Perturbations from per-block streams of one key: the same for any thread count.
        let key = rng::fork_key(rng);
        for m in 0..self.samples {
            loss.draw_batch(rng, &mut self.batch);
            kernels::gaussian_around(key, m as u64, self.y.as_mut_slice(), x.as_slice(), sd);
            loss.gradient(&self.y, &self.batch, &mut self.g);
            check::finite_vec("gradient at a perturbed point", site::HEAT, &self.g)?;
            *out += &self.g;
        }
        *out /= T::lit(self.samples as f64);
        Ok(Report::with_scope(gamma.as_f64()))
    }
}
