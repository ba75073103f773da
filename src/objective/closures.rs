//! Losses from closures: `FnCost` (values only) and `FnLoss` (values and gradients).

use super::{Batch, Cost, Gradient};
use crate::Real;
use nalgebra::DVector;

/// A deterministic loss from a closure `|x| f(x)`: gradient-free use (importance sampling).
///
/// [`FnCost::new`] pins the closure's signature to `Fn(&DVector<T>) -> T`, so the closure needs
/// no type annotations: the scalar T is inferred from how the loss is used (`f64` for float
/// literals; annotate `|x: &DVector<f32>|` to choose `f32` explicitly).
///
/// ```
/// use wide_valleys::objective::{Cost, FnCost, Batch};
/// let f = FnCost::new(2, |x| x.norm_squared());
/// assert_eq!(f.cost(&nalgebra::dvector![1.0, 2.0], &Batch::Full), 5.0);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FnCost<F> {
    dim: usize,
    value: F,
}

impl<F> FnCost<F> {
    /// Wraps `value` as a loss over ℝ^`dim`. The bound fixes the closure's signature, so
    /// `FnCost::new(d, |x| ...)` needs no annotation on `x`.
    pub fn new<T: Real>(dim: usize, value: F) -> Self
    where
        F: Fn(&DVector<T>) -> T,
    {
        Self { dim, value }
    }
}

impl<T: Real, F: Fn(&DVector<T>) -> T + Sync> Cost<T> for FnCost<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn cost(&self, x: &DVector<T>, _batch: &Batch) -> T {
        (self.value)(x)
    }
}

/// A deterministic differentiable loss from two closures, `|x| f(x)` and `|x, g| g = ∇f(x)`.
///
/// [`FnLoss::new`] pins the closures' signatures to `Fn(&DVector<T>) -> T` and
/// `Fn(&DVector<T>, &mut DVector<T>)`, so they need no type annotations: the scalar T is
/// inferred from the closures' bodies or from how the loss is used (`f64` for float literals).
/// To choose `f32` explicitly, annotate one argument (`|x: &DVector<f32>| ...`).
///
/// ```
/// use wide_valleys::objective::{Batch, Cost, FnLoss, Gradient};
/// use nalgebra::{dvector, DVector};
/// // f(x) = ½|x|², ∇f(x) = x: no annotations.
/// let f = FnLoss::new(2, |x| 0.5 * x.norm_squared(), |x, g| g.copy_from(x));
/// let mut g = DVector::zeros(2);
/// f.gradient(&dvector![1.0, -1.0], &Batch::Full, &mut g);
/// assert_eq!(g, dvector![1.0, -1.0]);
/// assert_eq!(f.cost(&dvector![1.0, -1.0], &Batch::Full), 1.0);
///
/// // f32, chosen by one annotation.
/// let h = FnLoss::new(1, |x: &DVector<f32>| x[0] * x[0], |x, g| g[0] = 2.0 * x[0]);
/// assert_eq!(h.cost(&dvector![3.0f32], &Batch::Full), 9.0f32);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FnLoss<F, G> {
    dim: usize,
    value: F,
    gradient: G,
}

impl<F, G> FnLoss<F, G> {
    /// Wraps `value` and `gradient` (which writes ∇f(x) into its second argument, of length
    /// `dim`) as a differentiable loss over ℝ^`dim`. The bounds fix the closures' signatures, so
    /// `FnLoss::new(d, |x| ..., |x, g| ...)` needs no annotations.
    pub fn new<T: Real>(dim: usize, value: F, gradient: G) -> Self
    where
        F: Fn(&DVector<T>) -> T,
        G: Fn(&DVector<T>, &mut DVector<T>),
    {
        Self {
            dim,
            value,
            gradient,
        }
    }
}

impl<T, F, G> Cost<T> for FnLoss<F, G>
where
    T: Real,
    F: Fn(&DVector<T>) -> T + Sync,
    G: Sync,
{
    fn dim(&self) -> usize {
        self.dim
    }
    fn cost(&self, x: &DVector<T>, _batch: &Batch) -> T {
        (self.value)(x)
    }
}

impl<T, F, G> Gradient<T> for FnLoss<F, G>
where
    T: Real,
    F: Fn(&DVector<T>) -> T + Sync,
    G: Fn(&DVector<T>, &mut DVector<T>) + Sync,
{
    fn gradient(&self, x: &DVector<T>, _batch: &Batch, grad: &mut DVector<T>) {
        (self.gradient)(x, grad)
    }
}
