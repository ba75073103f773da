//! A loss that counts the calls made on it (argmin's counting `Problem`): every step wraps the
//! user's loss in [`Counted`], so the evaluation counts of a [`Report`](crate::Report) are what
//! the algorithm did, not what a formula says it should have done.

use super::{
    Batch, Cost, GaussianWeightedMean, Gradient, MeanGradient, NoiseStream, Parallelism, WeightSums,
};
use crate::rng::Prng;
use crate::Real;
use nalgebra::DVector;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counters of loss values and gradients, shared by the threads of one step.
#[derive(Debug, Default)]
pub struct Counts {
    costs: AtomicUsize,
    gradients: AtomicUsize,
}

impl Counts {
    /// Loss values f(y) counted so far.
    pub fn costs(&self) -> usize {
        self.costs.load(Ordering::Relaxed)
    }

    /// Gradients ∇f(y) counted so far.
    pub fn gradients(&self) -> usize {
        self.gradients.load(Ordering::Relaxed)
    }

    fn add_costs(&self, n: usize) {
        self.costs.fetch_add(n, Ordering::Relaxed);
    }

    fn add_gradients(&self, n: usize) {
        self.gradients.fetch_add(n, Ordering::Relaxed);
    }
}

/// `loss` with every call counted in `counts`: [`Cost::cost`] and each sample of a
/// [`GaussianWeightedMean`] as a loss value; [`Gradient::gradient`],
/// [`Gradient::cost_and_gradient`] and each point of a [`MeanGradient`] as one gradient.
/// Drawing minibatches is not counted. The loss's fast paths stay available, counted the same way.
///
/// A `Counted` view may also carry a [`Parallelism`] hint about the threads around every call
/// made through it ([`Counted::with_parallelism`]; Parle's replicas get
/// [`Parallelism::AllThreadsBusy`] this way): it is what [`Cost::parallelism`] returns (the
/// wrapped loss's own hint if this one is [`Parallelism::Unknown`]), and it is passed to the
/// wrapped loss's [`Gradient::gradient_with`] by [`Gradient::gradient`]. Both are forwarded, so
/// a view of a view keeps the hint.
///
/// ```
/// use wide_valleys::objective::{Batch, Cost, Counted, Counts, FnCost};
/// let f = FnCost::new(1, |x| x[0] * x[0]);
/// let counts = Counts::default();
/// let counted = Counted::new(&f, &counts);
/// counted.cost(&nalgebra::dvector![2.0], &Batch::Full);
/// assert_eq!((counts.costs(), counts.gradients()), (1, 0));
/// ```
#[derive(Debug)]
pub struct Counted<'a, O: ?Sized> {
    loss: &'a O,
    counts: &'a Counts,
    parallelism: Parallelism,
}

impl<O: ?Sized> Clone for Counted<'_, O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O: ?Sized> Copy for Counted<'_, O> {}

impl<'a, O: ?Sized> Counted<'a, O> {
    /// Counts the calls made on `loss` in `counts`.
    pub fn new(loss: &'a O, counts: &'a Counts) -> Self {
        Self {
            loss,
            counts,
            parallelism: Parallelism::Unknown,
        }
    }

    /// The same view, with `parallelism` as the hint about the threads around every call made
    /// through it (see [`Parallelism`] and the type's documentation).
    ///
    /// ```
    /// use wide_valleys::objective::{Cost, Counted, Counts, FnCost, Parallelism};
    /// let f = FnCost::new(1, |x: &nalgebra::DVector<f64>| x[0]);
    /// let counts = Counts::default();
    /// let busy = Counted::new(&f, &counts).with_parallelism(Parallelism::AllThreadsBusy);
    /// assert_eq!(Cost::<f64>::parallelism(&busy), Parallelism::AllThreadsBusy);
    /// ```
    pub fn with_parallelism(self, parallelism: Parallelism) -> Self {
        Self {
            parallelism,
            ..self
        }
    }

    /// The loss being counted.
    pub fn inner(&self) -> &'a O {
        self.loss
    }
}

impl<T: Real, O: Cost<T> + ?Sized> Cost<T> for Counted<'_, O> {
    fn dim(&self) -> usize {
        self.loss.dim()
    }

    fn cost(&self, x: &DVector<T>, batch: &Batch) -> T {
        self.counts.add_costs(1);
        self.loss.cost(x, batch)
    }

    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        self.loss.draw_batch(rng, batch)
    }

    fn as_gaussian_weighted_mean(&self) -> Option<&dyn GaussianWeightedMean<T>> {
        self.loss.as_gaussian_weighted_mean().map(|_| self as _)
    }

    fn parallelism(&self) -> Parallelism {
        self.parallelism.or(self.loss.parallelism())
    }
}

impl<T: Real, O: Cost<T> + ?Sized> GaussianWeightedMean<T> for Counted<'_, O> {
    fn gaussian_weighted_mean(
        &self,
        x: &DVector<T>,
        s: T,
        batch: &Batch,
        samples: usize,
        chunks: usize,
        noise: NoiseStream,
        mean: &mut DVector<T>,
    ) -> Option<crate::Result<WeightSums>> {
        let r = self
            .loss
            .as_gaussian_weighted_mean()?
            .gaussian_weighted_mean(x, s, batch, samples, chunks, noise, mean);
        if r.is_some() {
            self.counts.add_costs(samples);
        }
        r
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> Gradient<T> for Counted<'_, O> {
    fn gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) {
        self.counts.add_gradients(1);
        self.loss.gradient_with(x, batch, grad, self.parallelism)
    }

    fn gradient_with(
        &self,
        x: &DVector<T>,
        batch: &Batch,
        grad: &mut DVector<T>,
        par: Parallelism,
    ) {
        self.counts.add_gradients(1);
        self.loss
            .gradient_with(x, batch, grad, par.or(self.parallelism))
    }

    fn cost_and_gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) -> T {
        self.counts.add_gradients(1);
        self.loss.cost_and_gradient(x, batch, grad)
    }

    fn as_mean_gradient(&self) -> Option<&dyn MeanGradient<T>> {
        self.loss.as_mean_gradient().map(|_| self as _)
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> MeanGradient<T> for Counted<'_, O> {
    fn mean_gradient(
        &self,
        batches: &[Batch],
        point: &(dyn Fn(usize, usize, &mut [T]) + Sync),
        grad: &mut DVector<T>,
    ) -> T {
        self.counts.add_gradients(batches.len());
        match self.loss.as_mean_gradient() {
            Some(m) => m.mean_gradient(batches, point, grad),
            // Not offered by the loss (as_mean_gradient is None then): unreachable through
            // `as_mean_gradient`, and NaN rather than a panic if called directly.
            None => {
                grad.fill(T::lit(f64::NAN));
                T::lit(f64::NAN)
            }
        }
    }

    fn gaussian_mean_gradient(
        &self,
        x: &DVector<T>,
        s: T,
        batches: &[Batch],
        noise: NoiseStream,
        grad: &mut DVector<T>,
    ) -> Option<T> {
        let r = self
            .loss
            .as_mean_gradient()?
            .gaussian_mean_gradient(x, s, batches, noise, grad);
        if r.is_some() {
            self.counts.add_gradients(batches.len());
        }
        r
    }
}
