//! A dense MLP whose parameters are one flat vector (000 §6.1: 784→10 and 784→200→10;
//! 004 §5.2 and 003 §3.3: mnistfc 784→1024→1024→10 with dropout).
//!
//! | item | concept | paper |
//! |---|---|---|
//! | [`Mlp`] | architecture, flat parameter layout, seeded initialization, evaluation | 000 §6.1, 004 §5.2 |
//! | [`MlpObjective`] | mean softmax cross-entropy on minibatches as a [`Cost`](crate::Cost) + [`Gradient`](crate::Gradient) | 000 §6.2 |
//! | [`Evaluation`] | held-out loss and accuracy | 000 Table 1 |
//! | `MeanGradient` for [`MlpObjective`] (`mean_gradient.rs`, `projected.rs`) | Robbins–Monro's mean of M gradients as stacked products; with [`GaussianExpectation::ProjectedMonteCarlo`](crate::kl::GaussianExpectation), the first layer's noise drawn only through its product with each minibatch (the same law) | 000 Alg. 5, eq. 17 |
//!
//! Because the parameters are one `DVector<T>`, every scheme and optimizer of the crate trains the
//! network through the objective traits; the algorithm draws the minibatches.
//!
//! ```
//! use std::sync::Arc;
//! use wide_valleys::{Batch, Cost, Gradient, rng};
//! use wide_valleys::data::synthetic::Blobs;
//! use wide_valleys::nn::{Mlp, MlpObjective};
//!
//! let task = Blobs { train: 200, test: 100, ..Blobs::default() }.generate::<f64>(1).unwrap();
//! let mlp = Mlp::new(&[32, 16, 10]).unwrap();
//! let f = MlpObjective::new(mlp, Arc::new(task.train), 20).unwrap();
//! let mut r = rng::seeded(7);
//! let mut x = f.init(&mut r);
//! let (mut batch, mut g) = (Batch::Full, nalgebra::DVector::zeros(f.dim()));
//! for _ in 0..100 {
//!     f.draw_batch(&mut r, &mut batch);
//!     f.gradient(&x, &batch, &mut g);
//!     x.axpy(-0.1, &g, 1.0); // plain SGD
//! }
//! let acc = f.evaluate(&x, &task.test, None).unwrap().accuracy;
//! assert!(acc > 0.3, "{acc}");
//! ```

mod chunk;
mod linalg;
mod mean_gradient;
mod mlp;
mod objective;
mod pass;
mod projected;
mod weighted_mean;
mod workspace;

pub use mlp::{Evaluation, Mlp};
pub use objective::MlpObjective;
