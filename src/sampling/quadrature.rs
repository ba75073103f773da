//! Exact expectations in dimension 1 and 2 by a dense tensor grid (trapezoid rule) on
//! x ± k√τ per axis. The integrands (a Gaussian φ_{x,τ} times e^{−f}, f or ∇f) are smooth and
//! decay like a Gaussian, for which the trapezoid rule is spectrally accurate. Used for the
//! closed-form and theorem tests (000 Thm 2, Thm 4) and by users who property-test them.

use super::{LogSum, MeanEstimator};
use crate::error::{check, site};
use crate::objective::{Batch, Cost, Gradient};
use crate::rng::Prng;
use crate::{Error, Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// Tensor-grid quadrature of Gaussian expectations over φ_{x,τ} = N(x, τI) in d = 1 or 2.
///
/// Provides E_{q_{x,τ}}\[Y\] (000 eq. 15, as a [`MeanEstimator`]), F_τ(x) (000 eq. 2),
/// F^H_τ(x) (000 §2.2) and E_{φ_{x,τ}}\[∇f\] (the expectation in 000 eq. 17). The loss is evaluated
/// on [`Batch::Full`] (an exact expectation of a deterministic loss).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quadrature {
    nodes: usize,
    half_width: f64,
}

impl Default for Quadrature {
    /// 201 nodes per axis on x ± 10√τ.
    fn default() -> Self {
        Self {
            nodes: 201,
            half_width: 10.0,
        }
    }
}

impl Quadrature {
    /// `nodes` grid points per axis (≥ 3) on x ± `half_width`·√τ (half_width > 0).
    /// Checked when used (and by [`Quadrature::validate`]).
    pub fn new(nodes: usize, half_width: f64) -> Self {
        Self { nodes, half_width }
    }

    /// Grid points per axis.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Half-width of the grid in units of √τ.
    pub fn half_width(&self) -> f64 {
        self.half_width
    }

    /// Checks `nodes ≥ 3` and `half_width` finite and > 0.
    pub fn validate(&self) -> Result<()> {
        if self.nodes < 3 {
            return Err(Error::InvalidHyperParameter {
                name: "nodes",
                value: self.nodes as f64,
                reason: "must be at least 3 (grid points per axis)",
            });
        }
        check::positive("half_width", self.half_width)?;
        Ok(())
    }

    /// Visits every grid node y with its relative Gaussian log-weight −|y − x|²/(2τ)
    /// (+ a constant common to all nodes).
    fn for_each_node<T: Real>(
        &self,
        x: &DVector<T>,
        tau: T,
        y: &mut DVector<T>,
        mut visit: impl FnMut(&DVector<T>, f64) -> Result<()>,
    ) -> Result<()> {
        Self::validate(self)?;
        check::positive("tau", tau)?;
        let d = x.len();
        if d == 0 || d > 2 {
            return Err(Error::InvalidHyperParameter {
                name: "dimension",
                value: d as f64,
                reason:
                    "must be 1 or 2: quadrature integrates on a full grid; in higher dimensions \
                         use SGLD or importance sampling",
            });
        }
        let tau64 = tau.as_f64();
        let a = self.half_width * tau64.sqrt();
        let h = 2.0 * a / (self.nodes - 1) as f64;
        let u = |i: usize| -a + h * i as f64;
        if d == 1 {
            for i in 0..self.nodes {
                let ui = u(i);
                y[0] = x[0] + T::lit(ui);
                visit(y, -ui * ui / (2.0 * tau64))?;
            }
        } else {
            for i in 0..self.nodes {
                let ui = u(i);
                y[0] = x[0] + T::lit(ui);
                for j in 0..self.nodes {
                    let uj = u(j);
                    y[1] = x[1] + T::lit(uj);
                    visit(y, -(ui * ui + uj * uj) / (2.0 * tau64))?;
                }
            }
        }
        Ok(())
    }

    /// Exact local entropy F_τ(x) = −log ∫ e^{−f(y)} φ_{x,τ}(y) dy (000 eq. 2, Thm 1), computed
    /// in log space.
    pub fn local_entropy<T: Real, O: Cost<T> + ?Sized>(
        &self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
    ) -> Result<f64> {
        check::dim(loss.dim(), x.len())?;
        let mut y = x.clone();
        let (mut num, mut den) = (LogSum::default(), LogSum::default());
        self.for_each_node(x, tau, &mut y, |y, lw| {
            let f = check::finite("loss value", site::QUADRATURE, loss.cost(y, &Batch::Full))?;
            num.add(lw - f.as_f64());
            den.add(lw);
            Ok(())
        })?;
        Ok(-(num.log_sum() - den.log_sum()))
    }

    /// Exact heat regularization F^H_τ(x) = ∫ f(y) φ_{x,τ}(y) dy (000 §2.2, Thm 3).
    pub fn heat<T: Real, O: Cost<T> + ?Sized>(
        &self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
    ) -> Result<f64> {
        check::dim(loss.dim(), x.len())?;
        let mut y = x.clone();
        let (mut sum, mut wsum) = (0.0, 0.0);
        self.for_each_node(x, tau, &mut y, |y, lw| {
            let f = check::finite("loss value", site::QUADRATURE, loss.cost(y, &Batch::Full))?;
            let w = lw.exp();
            sum += w * f.as_f64();
            wsum += w;
            Ok(())
        })?;
        Ok(sum / wsum)
    }

    /// Exact E_{φ_{x,τ}}\[∇f(Y)\] = ∇F^H_τ(x), the expectation in h(x) of 000 eq. 17, written
    /// into `out` (of x's length); returns the number of gradient evaluations.
    ///
    /// Errors: [`Error::DimensionMismatch`] if `x.len() != loss.dim()`, [`Error::BufferLength`]
    /// if `out.len() != x.len()`, as well as invalid settings, τ or dimension (1 or 2 only) and
    /// a non-finite gradient.
    pub fn gaussian_mean_gradient<T: Real, O: Gradient<T> + ?Sized>(
        &self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        out: &mut DVector<T>,
    ) -> Result<usize> {
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        let (mut y, mut g) = (x.clone(), x.clone());
        self.gaussian_mean_gradient_with(x, tau, loss, out, &mut y, &mut g)
    }

    /// [`Self::gaussian_mean_gradient`] with caller-owned scratch `y`, `g` (length d): no
    /// allocation, for use inside Robbins–Monro's iterations.
    pub(crate) fn gaussian_mean_gradient_with<T: Real, O: Gradient<T> + ?Sized>(
        &self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        out: &mut DVector<T>,
        y: &mut DVector<T>,
        g: &mut DVector<T>,
    ) -> Result<usize> {
        check::dim(loss.dim(), x.len())?;
        let mut acc = [0.0f64; 2];
        let mut wsum = 0.0;
        let mut evals = 0;
        self.for_each_node(x, tau, y, |y, lw| {
            loss.gradient(y, &Batch::Full, g);
            check::finite_vec("gradient", site::QUADRATURE, g)?;
            let w = lw.exp();
            for (a, gi) in acc.iter_mut().zip(g.iter()) {
                *a += w * gi.as_f64();
            }
            wsum += w;
            evals += 1;
            Ok(())
        })?;
        for (o, a) in out.iter_mut().zip(acc.iter()) {
            *o = T::lit(a / wsum);
        }
        Ok(evals)
    }
}

impl<T: Real, O: Cost<T> + ?Sized> MeanEstimator<T, O> for Quadrature {
    fn validate(&self) -> Result<()> {
        Quadrature::validate(self)
    }

    /// E_{q_{x,τ}}\[Y\] = ∫ y e^{−f} φ_{x,τ} / ∫ e^{−f} φ_{x,τ} on the grid, self-normalised in log
    /// space (000 eq. 15). Consumes no randomness.
    fn estimate(
        &mut self,
        x: &DVector<T>,
        tau: T,
        loss: &O,
        _rng: &mut Prng,
        mean: &mut DVector<T>,
    ) -> Result<Report> {
        check::dim_and_output(loss.dim(), x.len(), "mean", mean.len())?;
        let mut y = x.clone();
        let mut ls = LogSum::default();
        let mut sy = [0.0f64; 2];
        self.for_each_node(x, tau, &mut y, |y, lw| {
            let f = check::finite("loss value", site::QUADRATURE, loss.cost(y, &Batch::Full))?;
            let (rescale, w) = ls.add(lw - f.as_f64());
            for (s, yi) in sy.iter_mut().zip(y.iter()) {
                *s = *s * rescale + w * yi.as_f64();
            }
            Ok(())
        })?;
        for (m, s) in mean.iter_mut().zip(sy.iter()) {
            *m = T::lit(s / ls.sum);
        }
        check::finite_vec("estimate of E_q[Y]", site::QUADRATURE, mean)?;
        Ok(Report::default())
    }
}
