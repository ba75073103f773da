//! Samplers of the Gibbs measure q_{x,τ}(y) ∝ exp(−f(y) − |y − x|²/(2τ)) (000 eq. 6) and of the
//! Gaussian φ_{x,τ}, as one-step transitions the estimators and oracles are built from.
//!
//! | sampler | paper | used by |
//! |---|---|---|
//! | [`LangevinChain`]: y ← y − h·∇U(y) + σξ on U(y) = f(y) + \|y − c\|²/(2τ) | 000 Alg. 3; 004 Alg. 1 lines 3–6; 003 Alg. 2, eq. 4.40, 5.8a–b | [`Sgld`](crate::estimators::Sgld), [`LocalEntropyGradient`](crate::optimizers::LocalEntropyGradient), [`HopfLaxGradient`](crate::optimizers::HopfLaxGradient), [`Parle`](crate::optimizers::Parle) |

mod langevin;
mod langevin_pass;
mod settings;

pub use langevin::{ChainForm, LangevinChain, RunningMean};
pub use settings::{Averaging, NoiseScale};
