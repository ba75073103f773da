//! Trivialized-SGD (003 §2.3.3, Algorithm 1): the gradient plus a fixed random field h that
//! "trivializes" the landscape (few critical points, 003 Theorems 2.8–2.9), annealed by eq. 2.20.
//!
//! h ~ J√(p(p−2))·N(0, I) is drawn once (Alg. 1 line 4); at outer step i
//! τ_i = n(e^{−i/τ₀} − ½) (eq. 2.20) and the field used is h_i = (1 + 2τ_i/N)^{1/2} h (line 9),
//! so the update is x ← x − η(∇f(x) + h_i) (line 10, whose "w ← x" is a typo for x ← x).
//! N is the number of parameters (spins); with n = N the field vanishes as i → ∞.

use super::GradientOracle;
use crate::error::{check, site};
use crate::objective::{Batch, Gradient};
use crate::rng::Prng;
use crate::{Error, Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// ∇f(x) + (1 + 2τ_i/N)^{1/2} h with τ_i of 003 eq. 2.20 and h drawn at the first step.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct TrivializedGradient<T: Real> {
    coupling: T,
    layers: usize,
    neurons: usize,
    tau0: T,
    h: DVector<T>,
    initialized: bool,
    #[serde(skip)]
    batch: Batch,
}

impl<T: Real> TrivializedGradient<T> {
    /// Coupling J ≥ 0, p ≥ 2 layers, n ≥ 1 neurons (n ≤ N, the number of parameters, checked at
    /// the first step) and annealing constant τ₀ > 0 (003 Alg. 1 lines 2–3).
    /// Checked before use ([`GradientOracle::validate`]).
    pub fn new(coupling: T, layers: usize, neurons: usize, tau0: T) -> Self {
        Self {
            coupling,
            layers,
            neurons,
            tau0,
            h: DVector::zeros(0),
            initialized: false,
            batch: Batch::Full,
        }
    }

    /// J ≥ 0, p ≥ 2, n ≥ 1, τ₀ > 0.
    fn check(&self) -> Result<()> {
        check::non_negative("coupling", self.coupling)?;
        if self.layers < 2 {
            return Err(Error::InvalidHyperParameter {
                name: "layers",
                value: self.layers as f64,
                reason: "must be at least 2 (the field h has scale J·√(p(p−2)))",
            });
        }
        check::count("neurons", self.neurons)?;
        check::positive("tau0", self.tau0)?;
        Ok(())
    }

    /// τ_i = n(e^{−i/τ₀} − ½) (003 eq. 2.20).
    pub fn tau_at(&self, i: usize) -> T {
        T::lit(self.neurons as f64) * ((-T::lit(i as f64) / self.tau0).exp() - T::lit(0.5))
    }

    /// The factor (1 + 2τ_i/N)^{1/2} multiplying h at step i for N parameters.
    pub fn field_factor(&self, i: usize, parameters: usize) -> T {
        let v = T::one() + T::lit(2.0) * self.tau_at(i) / T::lit(parameters as f64);
        v.max(T::zero()).sqrt()
    }

    /// The field h (empty before the first step).
    pub fn field(&self) -> &DVector<T> {
        &self.h
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> GradientOracle<T, O> for TrivializedGradient<T> {
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        self.check()?;
        let n = x.len();
        if self.neurons > n {
            return Err(Error::InvalidHyperParameter {
                name: "neurons",
                value: self.neurons as f64,
                reason:
                    "must be at most the number of parameters N = x.len() (else the field factor \
                         1 + 2τ/N is negative)",
            });
        }
        if !self.initialized || self.h.len() != n {
            // Drawn from the optimizer's generator; committed only if the step succeeds (a failed
            // first step restores the generator, so the retry draws the same h).
            let p = T::lit(self.layers as f64);
            let scale = self.coupling * (p * (p - T::lit(2.0))).sqrt();
            self.h = DVector::from_fn(n, |_, _| scale * T::standard_normal(rng));
            self.initialized = false;
        }
        loss.draw_batch(rng, &mut self.batch);
        loss.gradient(x, &self.batch, out);
        check::finite_vec("gradient", site::TRIVIALIZED, out)?;
        out.axpy(self.field_factor(k, n), &self.h, T::one());
        Ok(Report::default())
    }

    fn commit(&mut self) {
        self.initialized = true;
    }

    fn validate(&self, k: usize) -> Result<()> {
        let _ = k;
        self.check()
    }
}
