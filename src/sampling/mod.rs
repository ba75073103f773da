//! Samplers of the Gibbs measure q_{x,τ}(y) ∝ exp(−f(y) − |y − x|²/(2τ)) (000 eq. 6, τ a
//! variance) and the estimators of its mean E_{q_{x,τ}}\[Y\] (000 eq. 15) built from them: what a
//! mean-seeking Gaussian–KL step (x_{k+1} = E_q\[Y\], 000 Alg. 1 step 2) and the local-entropy
//! gradient ((x − E_q\[Y\])/τ, 000 eq. 12) need.
//!
//! | sampler or estimator | paper | needs |
//! |---|---|---|
//! | [`LangevinChain`]: y ← y − h·∇U(y) + σξ on U(y) = f(y) + \|y − c\|²/(2τ), one step at a time | 000 Alg. 3; 004 Alg. 1 lines 3–6; 003 Alg. 2, eq. 4.40, 5.8a–b | [`Gradient`](crate::Gradient) |
//! | [`Sgld`]: the chain, warm-started, with 000's ε-weighted mean | 000 Alg. 3 (SGLD, Welling–Teh) | [`Gradient`](crate::Gradient) |
//! | [`ExponentialSgld`]: L steps from y = x, exponential average or last iterate | 004 Alg. 1 lines 1–6, 003 Alg. 2, eq. 4.40 | [`Gradient`](crate::Gradient) |
//! | [`ImportanceSampling`]: self-normalized weights of draws from φ_{x,τ} | 000 Alg. 4, eq. 16 (gradient-free) | [`Cost`](crate::Cost) only |
//! | [`Quadrature`]: exact expectations in d = 1, 2 (tests, theorem checks) | 000 eq. 15 | [`Cost`](crate::Cost) only |
//!
//! Every estimator is a [`MeanEstimator`]; each states what it needs of the loss through the
//! trait's `O` parameter, so importance sampling works with a loss that has no gradient.

mod estimator;
mod exponential_sgld;
mod importance;
mod langevin;
mod langevin_pass;
mod quadrature;
mod settings;
mod sgld;

pub(crate) use estimator::LogSum;
pub use estimator::MeanEstimator;
pub use exponential_sgld::ExponentialSgld;
pub use importance::ImportanceSampling;
pub use langevin::{ChainForm, LangevinChain, RunningMean};
pub use quadrature::Quadrature;
pub use settings::{Averaging, NoiseScale};
pub use sgld::{Sgld, StepSizes};
