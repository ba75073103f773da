//! Estimators of the regularized losses themselves (000 §2):
//! - local entropy F_τ(x) = −log ∫ e^{−f(y)} φ_{x,τ}(y) dy (000 eq. 2), minimized by
//!   [`LocalEntropy`](crate::LocalEntropy);
//! - heat regularization F^H_τ(x) = ∫ f(y) φ_{x,τ}(y) dy (000 §2.2), minimized by
//!   [`HeatRegularization`](crate::HeatRegularization).
//!
//! [`MonteCarlo`] works in any dimension with a [`Cost`]; [`local_entropy_quadrature`] and
//! [`heat_quadrature`] are exact in d = 1, 2 (via [`Quadrature`]).

use crate::error::{check, site};
use crate::kernels;
use crate::objective::{Batch, Cost};
use crate::rng::{self, Prng};
use crate::sampling::{LogSum, Quadrature};
use crate::{Real, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// A Monte Carlo estimate with its standard error.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Its estimated standard error (delta method for F_τ).
    pub standard_error: f64,
}

/// Monte Carlo estimators of F_τ (000 eq. 2) and F^H_τ (000 §2.2) from J samples y_j ~ φ_{x,τ}.
///
/// Sample j's noise comes from `rng::stream(key, j)` with a fresh key per call; one minibatch is
/// drawn per call and all samples are evaluated on it. The scratch vector is reused.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct MonteCarlo<T: Real> {
    samples: usize,
    #[serde(skip, default = "empty")]
    y: DVector<T>,
    #[serde(skip)]
    batch: Batch,
}

fn empty<T: Real>() -> DVector<T> {
    DVector::zeros(0)
}

impl<T: Real> MonteCarlo<T> {
    /// J = `samples` Gaussian draws per estimate (≥ 1, checked when used).
    pub fn new(samples: usize) -> Self {
        Self {
            samples,
            y: DVector::zeros(0),
            batch: Batch::Full,
        }
    }

    fn run<O: Cost<T> + ?Sized>(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        during: &'static str,
        mut visit: impl FnMut(f64),
    ) -> Result<()> {
        check::count("samples", self.samples)?;
        check::tau_and_dim(tau, loss.dim(), x.len())?;
        if self.y.len() != x.len() {
            self.y = DVector::zeros(x.len());
        }
        loss.draw_batch(rng, &mut self.batch);
        let key = rng::fork_key(rng);
        let sd = tau.sqrt();
        for j in 0..self.samples {
            let mut r = rng::stream(key, j as u64);
            kernels::sample_around(&mut r, self.y.as_mut_slice(), x.as_slice(), sd);
            let f = check::finite("loss value", during, loss.cost(&self.y, &self.batch))?;
            visit(f.as_f64());
        }
        Ok(())
    }

    /// F_τ(x) ≈ −log((1/J) Σ_j e^{−f(y_j)}) (000 eq. 2), by log-sum-exp (exact for f ~ 10⁴).
    /// Biased upward by O(1/J) (Jensen); the standard error is the delta-method one.
    pub fn local_entropy<O: Cost<T> + ?Sized>(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
    ) -> Result<Estimate> {
        let mut ls = LogSum::default();
        self.run(x, tau, loss, rng, site::MONTE_CARLO_LOCAL_ENTROPY, |f| {
            ls.add(-f);
        })?;
        let j = self.samples as f64;
        let mean_w = ls.sum / j; // in units of e^{m}
        let var_w = (ls.sum_sq / j - mean_w * mean_w).max(0.0);
        Ok(Estimate {
            value: -(ls.max_log_weight + mean_w.ln()),
            standard_error: (var_w / j).sqrt() / mean_w,
        })
    }

    /// F^H_τ(x) ≈ (1/J) Σ_j f(y_j) (000 §2.2), with standard error sd/√J.
    pub fn heat<O: Cost<T> + ?Sized>(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
    ) -> Result<Estimate> {
        // Welford's update: stable mean and variance.
        let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
        self.run(x, tau, loss, rng, site::MONTE_CARLO_HEAT, |f| {
            n += 1.0;
            let d = f - mean;
            mean += d / n;
            m2 += d * (f - mean);
        })?;
        let var = if n > 1.0 { m2 / (n - 1.0) } else { 0.0 };
        Ok(Estimate {
            value: mean,
            standard_error: (var / n).sqrt(),
        })
    }
}

/// Exact F_τ(x) (000 eq. 2) by quadrature in d = 1, 2 (see [`Quadrature::local_entropy`]).
pub fn local_entropy_quadrature<T: Real, O: Cost<T> + ?Sized>(
    quadrature: &Quadrature,
    x: &DVector<T>,
    tau: T,
    loss: &O,
) -> Result<f64> {
    quadrature.local_entropy(x, tau, loss)
}

/// Exact F^H_τ(x) (000 §2.2) by quadrature in d = 1, 2 (see [`Quadrature::heat`]).
pub fn heat_quadrature<T: Real, O: Cost<T> + ?Sized>(
    quadrature: &Quadrature,
    x: &DVector<T>,
    tau: T,
    loss: &O,
) -> Result<f64> {
    quadrature.heat(x, tau, loss)
}
