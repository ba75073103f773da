//! # wide-valleys
//!
//! Optimizers that seek wide, flat valleys of a loss instead of sharp minima.
//!
//! Every method here is "the gradient of a smoothed loss" followed by "an update rule"
//! (`shared/DESIGN.md`). The crate is a map of the papers:
//!
//! | module | concept | paper |
//! |---|---|---|
//! | [`objective`] | the user's loss: [`Cost`] (values), [`Gradient`] (gradients), minibatches drawn by the algorithm; optionally [`MeanGradient`] (many gradients' mean at once, for Robbins–Monro) and [`GaussianWeightedMean`] (importance sampling's weighted mean with less noise, same law) | 000 §2, Alg. 4, Alg. 5 |
//! | [`objectives`] | test landscapes with closed forms (Gaussian mixture, quadratic) | DESIGN.md |
//! | [`sampling`] | the one Langevin transition ([`sampling::LangevinChain`]) and the estimators of E_{q_{x,τ}}\[Y\] built from it or beside it: SGLD, Entropy-SGD's inner loop, importance sampling, quadrature | 000 Alg. 3, Alg. 4, eq. 15; 004 Alg. 1; 003 Alg. 2, eq. 5.8a–b |
//! | [`kl`] | Gaussian–KL steps: mean-seeking (moment matching) and mode-seeking (Robbins–Monro) | 000 §5, Alg. 5, eq. 17 |
//! | [`schemes`] | the two-step schemes [`LocalEntropy`] and [`HeatRegularization`] | 000 Alg. 1, Alg. 2, eq. 12 |
//! | [`regularized`] | estimators of F_τ and F^H_τ themselves | 000 eq. 2, §4 |
//! | [`schedules`] | τ, γ, ρ and learning-rate schedules | 000 eq. 18, 003 §3.2.3, eq. 5.10 |
//! | [`update`] | first-order update rules: SGD, momentum, Nesterov, Adam, weight decay | 003 §3.3.5 |
//! | [`smoothing`] | smoothed-gradient oracles and their wrappers: the local-entropy gradient over any estimator, Hopf–Lax, heat, trivialized, plain; SAM, 004's data term and Parle's elastic coupling around any oracle | 000 eq. 12; 003 ch. 2–5; 004 eq. 9 |
//! | [`optim`] | the one [`Optimizer`] trait and its [`Report`]; the driver [`SmoothedOptimizer`] (oracle + rule + learning rate) and the papers' optimizers by name: Entropy-SGD, HEAT, HJ, SAM, Trivialized-SGD, Parle over any oracle, Elastic-SGD | 004 Alg. 1; 003 ch. 2–5 |
//! | [`nn`] | a dense MLP whose parameters are one flat vector | 000 §6.1, 004 §5.2 |
//! | [`observe`] | observers: watch any scheme or optimizer step by step | — |
//! | [`checkpoint`] | atomic checkpoint and resume of every scheme and optimizer | — |
//! | [`data`] | MNIST IDX reader, synthetic tasks, minibatches and shards | 000 §6, 003 §5.5 |
//!
//! ## One convention for the Gaussian's width
//!
//! Throughout, **τ (and the optimizers' γ) is a variance**: φ_{x,τ} = N(x, τI) and
//! q_{x,τ}(y) ∝ exp(−f(y) − |y − x|²/(2τ)) (000 eq. 6). Seed 004 writes γ for a *coupling strength*
//! (variance 1/γ): convert with `gamma_here = 1.0 / gamma_004`. Seed 003 already uses γ as a
//! variance. Local entropy is *minimized*: F_τ = −log(e^{−f} ∗ φ_{0,τ}) (000), the negative of 004's F.
//! `docs/theory.md` has the full table of conversions.
//!
//! ## Quick look
//!
//! ```
//! use wide_valleys::{objectives::GaussianMixture, sampling::Quadrature, LocalEntropy};
//! use nalgebra::dvector;
//!
//! let loss = GaussianMixture::<f64>::wide_and_sharp();
//! let mut x = dvector![-1.2];
//! // τ = 2: F_τ has a single minimum, in the wide valley (the sharp one at −2 is smoothed away).
//! // Exact quadrature for E_q[Y] in 1-D, so the iterates are those of Algorithm 1 itself.
//! let mut scheme = LocalEntropy::new(2.0).estimator(Quadrature::default());
//! for _ in 0..50 {
//!     scheme.step(&mut x, &loss).unwrap();
//! }
//! assert!(x[0] > 0.5, "x = {}", x[0]);
//! ```
//!
//! ## Composition
//!
//! The pieces wrap each other (`docs/architecture.md`): the local-entropy gradient over any
//! estimator of E_q, Parle over any oracle, SAM around any oracle. Gradient-free Entropy-SGD on a
//! loss with values only, and Parle with HEAT inside each replica:
//!
//! ```
//! use nalgebra::{dmatrix, dvector, DVector};
//! use wide_valleys::sampling::ImportanceSampling;
//! use wide_valleys::objectives::Quadratic;
//! use wide_valleys::optim::{Parle, SmoothedOptimizer};
//! use wide_valleys::smoothing::{HeatGradient, LocalEntropyGradient};
//! use wide_valleys::{FnCost, Optimizer};
//!
//! let values = FnCost::new(2, |x: &DVector<f64>| (x[0] - 1.0).powi(2) + (x[1] + 0.5).powi(2));
//! let oracle = LocalEntropyGradient::with_estimator(0.1, ImportanceSampling::new(500));
//! let mut entropy_sgd = SmoothedOptimizer::with_oracle(oracle.scaled(true), 0.5).seed(7);
//!
//! let f = Quadratic::new(dmatrix![2.0, 0.0; 0.0, 1.0], dvector![1.0, -1.0])?;
//! let mut parle = Parle::with_oracle(3, HeatGradient::new(0.01, 10), 1.0, 0.1).seed(1);
//!
//! let (mut x, mut y) = (dvector![3.0, 2.0], dvector![2.0, 2.0]);
//! for _ in 0..300 {
//!     entropy_sgd.step(&mut x, &values)?;
//!     parle.step(&mut y, &f)?;
//! }
//! assert!((x - dvector![1.0, -0.5]).norm() < 0.1);
//! assert!((y - f.minimizer()).norm() < 0.05);
//! # Ok::<(), wide_valleys::Error>(())
//! ```
#![deny(missing_docs)]
#![warn(clippy::all)]

pub mod checkpoint;
pub mod data;
pub mod error;
mod kernels;
pub mod kl;
pub mod nn;
pub mod objective;
pub mod objectives;
pub mod observe;
pub mod optim;
pub mod real;
pub mod regularized;
pub mod rng;
pub mod sampling;
pub mod schedules;
pub mod schemes;
pub mod smoothing;
pub mod update;

pub use error::{Error, Result};
pub use objective::{
    Batch, Cost, Counted, FnCost, FnLoss, GaussianWeightedMean, Gradient, MeanGradient, WeightSums,
};
pub use optim::{Optimizer, Report};
// The names a user reaches for first, at the root.
pub use kl::RobbinsMonro;
pub use observe::{Observed, Observer};
pub use optim::{
    ElasticSgd, EntropySgd, GradientDescent, HamiltonJacobi, Heat, Parle, Sam, SmoothedOptimizer,
    TrivializedSgd,
};
pub use sampling::{ExponentialSgld, ImportanceSampling, MeanEstimator, Quadrature, Sgld};
pub use smoothing::{GradientOracle, LocalEntropyGradient};

pub use real::Real;
pub use rng::Prng;
pub use schedules::Schedule;
pub use schemes::{HeatRegularization, LocalEntropy};
pub use update::{Adam, Momentum, Sgd};

/// The README's usage example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
