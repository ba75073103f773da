//! 004's data term: ρ∇f(x) added to any smoothed gradient, on a minibatch of its own (004 eq. 6,
//! 9: Entropy-SGD's outer gradient ρ∇f(x) + ∇F_γ(x)).

use super::GradientOracle;
use crate::error::{check, site};
use crate::objective::{Batch, Gradient};
use crate::rng::Prng;
use crate::{Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// `inner`'s gradient plus ρ∇f(x) on a fresh minibatch drawn after the inner oracle's (004
/// eq. 9; ρ = 0 adds nothing and draws nothing).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real, G: Serialize + serde::de::DeserializeOwned")]
pub struct DataTerm<T: Real, G> {
    inner: G,
    rho: T,
    #[serde(skip)]
    g: DVector<T>,
    #[serde(skip)]
    batch: Batch,
}

impl<T: Real, G> DataTerm<T, G> {
    /// `inner` + ρ∇f with data weight ρ (checked finite and ≥ 0 when used).
    pub fn new(inner: G, rho: T) -> Self {
        Self {
            inner,
            rho,
            g: DVector::zeros(0),
            batch: Batch::Full,
        }
    }

    /// The data weight ρ.
    pub fn data_weight(&self) -> T {
        self.rho
    }

    /// The wrapped oracle.
    pub fn inner(&self) -> &G {
        &self.inner
    }

    fn add<O: Gradient<T> + ?Sized>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<()> {
        let rho = check::non_negative("data_weight", self.rho)?;
        if rho > T::zero() {
            if self.g.len() != x.len() {
                self.g = DVector::zeros(x.len());
            }
            loss.draw_batch(rng, &mut self.batch);
            loss.gradient(x, &self.batch, &mut self.g);
            check::finite_vec("gradient", site::ENTROPY_SGD_DATA_TERM, &self.g)?;
            out.axpy(rho, &self.g, T::one());
            check::finite_vec(
                "smoothed gradient with the data term",
                site::ENTROPY_SGD_DATA_TERM,
                out,
            )?;
        }
        Ok(())
    }
}

impl<T: Real, O: Gradient<T> + ?Sized, G: GradientOracle<T, O>> GradientOracle<T, O>
    for DataTerm<T, G>
{
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        let report = self.inner.estimate(x, loss, k, rng, out)?;
        self.add(x, loss, rng, out)?;
        Ok(report)
    }

    fn slices(&self) -> usize {
        self.inner.slices()
    }

    fn estimate_slice(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
        first: bool,
    ) -> Result<Option<Report>> {
        match self.inner.estimate_slice(x, loss, k, rng, out, first)? {
            None => Ok(None),
            Some(report) => {
                self.add(x, loss, rng, out)?;
                Ok(Some(report))
            }
        }
    }

    fn commit(&mut self) {
        self.inner.commit();
    }

    fn validate(&self, k: usize) -> Result<()> {
        check::non_negative("data_weight", self.rho)?;
        self.inner.validate(k)
    }
}
