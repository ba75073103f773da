//! The elastic coupling of a replica to the master, added to any smoothed gradient (003 eq. 5.1:
//! the gradient of |x_a − x|²/(2ρ) in x_a is (x_a − x)/ρ; eqs. 5.4a, 5.8c).

use super::GradientOracle;
use crate::error::check;
use crate::rng::Prng;
use crate::{Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// `inner`'s gradient at x_a plus (x_a − x)/ρ towards the master x (003 eqs. 5.4a, 5.8c). The
/// master and ρ are set before each round with [`Self::set_master`] (what a replica receives from
/// the master); ρ = +∞ switches the coupling off.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real, G: Serialize + serde::de::DeserializeOwned")]
pub struct ElasticCoupling<T: Real, G> {
    inner: G,
    #[serde(skip)]
    master: DVector<T>,
    #[serde(skip)]
    inv_coupling: T,
}

impl<T: Real, G> ElasticCoupling<T, G> {
    /// `inner` coupled to a master set later (until then the coupling is off).
    pub fn new(inner: G) -> Self {
        Self {
            inner,
            master: DVector::zeros(0),
            inv_coupling: T::zero(),
        }
    }

    /// The master x and the coupling ρ (> 0, +∞ allowed) of the next estimates.
    pub fn set_master(&mut self, master: &DVector<T>, coupling: T) -> Result<()> {
        let rho = check::positive_or_inf("coupling", coupling)?;
        if self.master.len() != master.len() {
            self.master = DVector::zeros(master.len());
        }
        self.master.copy_from(master);
        self.inv_coupling = T::one() / rho; // 0 for ρ = ∞: the coupling is off
        Ok(())
    }

    /// The wrapped oracle.
    pub fn inner(&self) -> &G {
        &self.inner
    }

    /// The wrapped oracle, mutably.
    pub fn inner_mut(&mut self) -> &mut G {
        &mut self.inner
    }

    fn add(&self, x: &DVector<T>, out: &mut DVector<T>) -> Result<()> {
        if self.master.len() == x.len() {
            let c = self.inv_coupling;
            let (xs, m) = (x.as_slice(), self.master.as_slice());
            crate::kernels::par_blocks(out.as_mut_slice(), &mut [], |o, g, _| {
                for (i, gi) in g.iter_mut().enumerate() {
                    *gi += (xs[o + i] - m[o + i]) * c;
                }
            });
        } else if !self.master.is_empty() {
            check::dim(self.master.len(), x.len())?;
        }
        check::finite_vec("replica gradient", crate::error::site::PARLE, out)
    }
}

impl<T: Real, O: ?Sized, G: GradientOracle<T, O>> GradientOracle<T, O> for ElasticCoupling<T, G> {
    fn estimate(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        let report = self.inner.estimate(x, loss, k, rng, out)?;
        self.add(x, out)?;
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
            Some(mut report) => {
                self.add(x, out)?;
                report.coupling = Some((T::one() / self.inv_coupling).as_f64());
                Ok(Some(report))
            }
        }
    }

    fn commit(&mut self) {
        self.inner.commit();
    }

    fn validate(&self, k: usize) -> Result<()> {
        self.inner.validate(k)
    }
}
