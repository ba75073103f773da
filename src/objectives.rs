//! Test landscapes with closed forms (`shared/DESIGN.md`, "Closed forms worth having in tests").
//!
//! - [`GaussianMixture`]: f = −log Σᵢ wᵢ N(x; mᵢ, sᵢ²I). Its local entropy (000 eq. 2) and the mean
//!   of q_{x,τ} (000 eq. 6, 15) are exact, which makes it the reference for every mean-seeking
//!   estimator and for the wide-vs-sharp experiments (a narrow deep component next to a wide one).
//! - [`Quadratic`]: f = ½xᵀAx + bᵀx, A ≻ 0, with exact heat regularization, mode-seeking step
//!   (000 Alg. 2), local entropy, E_q\[Y\] and proximal map (003 eq. 4.18).

use crate::error::check;
use crate::objective::{Batch, Cost, Gradient};
use crate::{Error, Real, Result};
use nalgebra::{DMatrix, DVector};

/// f(x) = −log Σᵢ wᵢ N(x; mᵢ, sᵢ² I) on ℝᵈ, with isotropic components.
#[derive(Clone, Debug)]
pub struct GaussianMixture<T: Real> {
    weights: Vec<T>,
    means: Vec<DVector<T>>,
    variances: Vec<T>,
}

impl<T: Real> GaussianMixture<T> {
    /// Components (wᵢ, mᵢ, sᵢ²). Panics if the lists differ in length or are empty (a test fixture,
    /// not user input).
    pub fn new(weights: Vec<T>, means: Vec<DVector<T>>, variances: Vec<T>) -> Self {
        assert!(
            !weights.is_empty() && weights.len() == means.len() && means.len() == variances.len()
        );
        let d = means[0].len();
        assert!(means.iter().all(|m| m.len() == d));
        Self {
            weights,
            means,
            variances,
        }
    }

    /// The 1-D wide-vs-sharp landscape of the optimizer issue:
    /// f(x) = −log(0.3·N(x; −2, 0.05) + 0.7·N(x; 1.5, 1)) (a deep sharp minimum at −2, a shallower
    /// wide one at 1.5).
    pub fn wide_and_sharp() -> Self {
        Self::new(
            vec![T::lit(0.3), T::lit(0.7)],
            vec![
                DVector::from_element(1, T::lit(-2.0)),
                DVector::from_element(1, T::lit(1.5)),
            ],
            vec![T::lit(0.05), T::lit(1.0)],
        )
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Always false (a mixture has at least one component).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// log of wᵢ N(x; mᵢ, vI) for component i with total variance v.
    fn log_component(&self, i: usize, x: &DVector<T>, v: T) -> f64 {
        let d = x.len() as f64;
        let v = v.as_f64();
        let mut sq = 0.0;
        for (a, b) in x.iter().zip(self.means[i].iter()) {
            let t = a.as_f64() - b.as_f64();
            sq += t * t;
        }
        self.weights[i].as_f64().ln()
            - 0.5 * d * (2.0 * std::f64::consts::PI * v).ln()
            - sq / (2.0 * v)
    }

    /// Normalised responsibilities rᵢ ∝ wᵢ N(x; mᵢ, (sᵢ² + extra)I) and −log Σ (log-sum-exp).
    fn responsibilities(&self, x: &DVector<T>, extra: T) -> (Vec<f64>, f64) {
        let logs: Vec<f64> = (0..self.len())
            .map(|i| self.log_component(i, x, self.variances[i] + extra))
            .collect();
        let m = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = logs.iter().map(|l| (l - m).exp()).sum();
        let r = logs.iter().map(|l| (l - m).exp() / s).collect();
        (r, -(m + s.ln()))
    }

    /// Exact local entropy F_τ(x) = −log Σᵢ wᵢ N(x; mᵢ, (sᵢ²+τ)I) (000 eq. 2).
    pub fn local_entropy(&self, x: &DVector<T>, tau: T) -> T {
        T::lit(self.responsibilities(x, tau).1)
    }

    /// Exact E_{q_{x,τ}}\[Y\] = Σᵢ rᵢ μᵢ, μᵢ = (mᵢ/sᵢ² + x/τ)/(1/sᵢ² + 1/τ) (000 eq. 15).
    pub fn local_entropy_mean(&self, x: &DVector<T>, tau: T) -> DVector<T> {
        let (r, _) = self.responsibilities(x, tau);
        let mut out = DVector::zeros(x.len());
        for (i, ri) in r.iter().enumerate() {
            let p = T::one() / self.variances[i] + T::one() / tau;
            let mu = (&self.means[i] / self.variances[i] + x / tau) / p;
            out += mu * T::lit(*ri);
        }
        out
    }

    /// Exact ∇F_τ(x) = (x − E_q\[Y\])/τ (000 eq. 12).
    pub fn local_entropy_gradient(&self, x: &DVector<T>, tau: T) -> DVector<T> {
        (x - self.local_entropy_mean(x, tau)) / tau
    }
}

impl<T: Real> Cost<T> for GaussianMixture<T> {
    fn dim(&self) -> usize {
        self.means[0].len()
    }
    fn cost(&self, x: &DVector<T>, _batch: &Batch) -> T {
        T::lit(self.responsibilities(x, T::zero()).1)
    }
}

impl<T: Real> Gradient<T> for GaussianMixture<T> {
    fn gradient(&self, x: &DVector<T>, _batch: &Batch, grad: &mut DVector<T>) {
        let (r, _) = self.responsibilities(x, T::zero());
        grad.fill(T::zero());
        for (i, ri) in r.iter().enumerate() {
            let c = T::lit(*ri) / self.variances[i];
            for ((g, a), m) in grad.iter_mut().zip(x.iter()).zip(self.means[i].iter()) {
                *g += c * (*a - *m);
            }
        }
    }
}

/// f(x) = ½xᵀAx + bᵀx with A symmetric positive definite.
#[derive(Clone, Debug)]
pub struct Quadratic<T: Real> {
    a: DMatrix<T>,
    b: DVector<T>,
}

impl<T: Real> Quadratic<T> {
    /// The quadratic with Hessian `a` (symmetric positive definite) and linear term `b`: data, so
    /// checked here (the closed forms below need A ≻ 0).
    ///
    /// Errors: [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) unless `a` is
    /// square with `b.len()` rows; [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter)
    /// (`hessian`) unless `a` is finite, symmetric and positive definite.
    pub fn new(a: DMatrix<T>, b: DVector<T>) -> Result<Self> {
        if !a.is_square() {
            return Err(Error::DimensionMismatch {
                expected: a.nrows(),
                got: a.ncols(),
            });
        }
        check::dim(a.nrows(), b.len())?;
        check::finite_vec("linear term b", "Quadratic::new", &b)?;
        let finite = a.iter().all(|v| v.is_finite());
        // Symmetric up to rounding (R·D·Rᵀ is not symmetric bit for bit): the closed forms use
        // one triangle, the gradient all of A.
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
        let tol = 1e3 * T::default_epsilon().as_f64() * scale;
        let symmetric = (0..a.nrows())
            .all(|i| (0..i).all(|j| (a[(i, j)].as_f64() - a[(j, i)].as_f64()).abs() <= tol));
        if !(finite && symmetric && a.clone().cholesky().is_some()) {
            return Err(Error::InvalidHyperParameter {
                name: "hessian",
                value: f64::NAN,
                reason: "must be finite, symmetric and positive definite",
            });
        }
        Ok(Self { a, b })
    }

    /// The Hessian A.
    pub fn hessian(&self) -> &DMatrix<T> {
        &self.a
    }

    /// The unique minimizer m = −A⁻¹b.
    pub fn minimizer(&self) -> DVector<T> {
        -self.solve_shifted(T::zero(), &self.b)
    }

    /// What the closed forms return for an x of the wrong length: NaN, not a panic.
    fn nan_vector(&self) -> DVector<T> {
        DVector::from_element(self.b.len(), T::lit(f64::NAN))
    }

    /// (A + sI)⁻¹ v by Cholesky (A + sI ≻ 0 for s ≥ 0).
    fn solve_shifted(&self, s: T, v: &DVector<T>) -> DVector<T> {
        let n = self.b.len();
        let m = &self.a + DMatrix::identity(n, n) * s;
        // A ≻ 0 (checked by `new`) and s ≥ 0: A + sI ≻ 0.
        match m.cholesky() {
            Some(c) => c.solve(v),
            None => DVector::from_element(n, T::lit(f64::NAN)),
        }
    }

    /// Exact heat regularization F^H_τ(x) = f(x) + τ tr(A)/2 (000 §4).
    pub fn heat(&self, x: &DVector<T>, tau: T) -> T {
        self.cost(x, &Batch::Full) + tau * self.a.trace() / T::lit(2.0)
    }

    /// Exact mode-seeking step (000 Alg. 2): x_{k+1} = (I + τA)⁻¹(x_k − τb).
    pub fn mode_seeking_step(&self, x: &DVector<T>, tau: T) -> DVector<T> {
        if x.len() != self.b.len() {
            return self.nan_vector();
        }
        // (I + τA)⁻¹ v = (A + I/τ)⁻¹ v / τ
        self.solve_shifted(T::one() / tau, &(x - &self.b * tau)) / tau
    }

    /// Exact E_{q_{x,τ}}\[Y\] = (A + I/τ)⁻¹(x/τ − b) (000 eq. 15), the mean-seeking step (Alg. 1).
    pub fn local_entropy_mean(&self, x: &DVector<T>, tau: T) -> DVector<T> {
        if x.len() != self.b.len() {
            return self.nan_vector();
        }
        self.solve_shifted(T::one() / tau, &(x / tau - &self.b))
    }

    /// Exact local entropy up to its additive constant:
    /// F_τ(x) = ½(x − m)ᵀ(A⁻¹ + τI)⁻¹(x − m) + const, m = −A⁻¹b.
    pub fn local_entropy_up_to_constant(&self, x: &DVector<T>, tau: T) -> T {
        let n = self.b.len();
        let nan = T::lit(f64::NAN);
        let Some(ainv) = self.a.clone().cholesky().map(|c| c.inverse()) else {
            return nan;
        };
        let m = ainv + DMatrix::identity(n, n) * tau;
        if x.len() != n {
            return nan;
        }
        let d = x - self.minimizer();
        m.cholesky()
            .map_or(nan, |c| d.dot(&c.solve(&d)) / T::lit(2.0))
    }

    /// Exact proximal map prox_{tf}(x) = (I + tA)⁻¹(x − tb) (003 eq. 4.18, the Hopf–Lax minimizer).
    pub fn prox(&self, x: &DVector<T>, t: T) -> DVector<T> {
        self.mode_seeking_step(x, t)
    }
}

impl<T: Real> Cost<T> for Quadratic<T> {
    fn dim(&self) -> usize {
        self.b.len()
    }
    fn cost(&self, x: &DVector<T>, _batch: &Batch) -> T {
        if x.len() != self.b.len() {
            // Never from this crate's steps (they check x.len() == dim() first): NaN, not a panic.
            return T::lit(f64::NAN);
        }
        // xᵀAx column by column: no temporary A·x (the cost is called once per sample).
        let xax = (0..x.len()).fold(T::zero(), |s, j| s + x[j] * self.a.column(j).dot(x));
        xax / T::lit(2.0) + self.b.dot(x)
    }
}

impl<T: Real> Gradient<T> for Quadratic<T> {
    fn gradient(&self, x: &DVector<T>, _batch: &Batch, grad: &mut DVector<T>) {
        if x.len() != self.b.len() || grad.len() != self.b.len() {
            // As in `cost`: NaN where the lengths allow, never a panic.
            grad.fill(T::lit(f64::NAN));
            return;
        }
        grad.gemv(T::one(), &self.a, x, T::zero());
        *grad += &self.b;
    }
}
