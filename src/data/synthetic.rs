//! A built-in, deterministic classification task for the no-download quickstart: Gaussian blobs.
//!
//! Each class is a mixture of `modes_per_class` isotropic Gaussians N(c, noise² I) in ℝ^`features`
//! whose centres c are drawn once from N(0, spread² I). With the defaults (10 classes, 32
//! features, 2 modes per class) the classes overlap, so held-out accuracy is well below 100%
//! (the nearest-centre rule, Bayes-optimal up to mode weights, gets about 90%), and two modes per
//! class make the task not linearly separable, so a hidden layer helps — a small stand-in for
//! MNIST (000 §6) that trains in seconds.

use super::Dataset;
use crate::rng;
use crate::{Real, Result};
use nalgebra::DMatrix;
use rand::Rng;

/// Parameters of the Gaussian-blob task; [`Blobs::default`] is the quickstart's task.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Blobs {
    /// Number of classes.
    pub classes: usize,
    /// Input dimension.
    pub features: usize,
    /// Gaussian modes per class (≥ 2 makes the classes not linearly separable).
    pub modes_per_class: usize,
    /// Standard deviation of the centres around the origin.
    pub spread: f64,
    /// Standard deviation of the examples around their centre.
    pub noise: f64,
    /// Number of training examples.
    pub train: usize,
    /// Number of held-out test examples.
    pub test: usize,
}

impl Default for Blobs {
    fn default() -> Self {
        Self {
            classes: 10,
            features: 32,
            modes_per_class: 2,
            spread: 1.0,
            noise: 1.4,
            train: 4000,
            test: 1000,
        }
    }
}

/// A generated task: train and test sets drawn from the same blobs, and the blobs' centres.
#[derive(Clone, Debug)]
pub struct SyntheticTask<T: Real> {
    /// Training examples (classes balanced: example i has class i mod `classes`).
    pub train: Dataset<T>,
    /// Held-out examples, independent of the training ones.
    pub test: Dataset<T>,
    /// The centres, `features × (classes · modes_per_class)`; centre k belongs to class
    /// k mod `classes`.
    pub centres: DMatrix<f64>,
}

impl Blobs {
    /// Draws the task from `seed`. The numbers are generated in `f64` and then converted, so the
    /// `f32` and `f64` tasks of one seed hold the same examples (up to rounding).
    ///
    /// Errors: [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) for a zero
    /// count or a non-positive `spread`/`noise`.
    pub fn generate<T: Real>(&self, seed: u64) -> Result<SyntheticTask<T>> {
        use crate::error::check;
        check::count("classes", self.classes)?;
        check::count("features", self.features)?;
        check::count("modes_per_class", self.modes_per_class)?;
        check::count("train", self.train)?;
        check::count("test", self.test)?;
        check::positive("spread", self.spread)?;
        check::positive("noise", self.noise)?;
        if self.classes > 256 {
            return Err(crate::Error::InvalidHyperParameter {
                name: "classes",
                value: self.classes as f64,
                reason: "must be at most 256 (labels are u8)",
            });
        }
        let k = self.classes * self.modes_per_class;
        // Separate streams for centres, train and test: the test set does not change when the
        // training set's size does.
        let mut r = rng::stream(seed, 0);
        let centres = DMatrix::from_fn(self.features, k, |_, _| {
            self.spread * f64::standard_normal(&mut r)
        });
        let draw = |n: usize, stream: u64| -> Result<Dataset<T>> {
            let mut r = rng::stream(seed, stream);
            let mut x = DMatrix::<T>::zeros(self.features, n);
            let mut labels = Vec::with_capacity(n);
            for i in 0..n {
                let class = i % self.classes;
                let mode = r.random_range(0..self.modes_per_class);
                let c = centres.column(mode * self.classes + class);
                for (j, v) in x.column_mut(i).iter_mut().enumerate() {
                    *v = T::lit(c[j] + self.noise * f64::standard_normal(&mut r));
                }
                labels.push(class as u8);
            }
            Dataset::new(x, labels, self.classes)
        };
        Ok(SyntheticTask {
            train: draw(self.train, 1)?,
            test: draw(self.test, 2)?,
            centres,
        })
    }
}
