//! The papers' single-process optimizers by name: each is a [`SmoothedOptimizer`] with one oracle
//! and SGD (change the rule with [`SmoothedOptimizer::with_rule`]: Nesterov as in 003 §3.3, Adam
//! for Entropy-Adam, 003 §3.3.5). The names are type aliases, so `EntropySgd::new(..)` *is* a
//! `SmoothedOptimizer`; `new` takes the paper's parameters and the oracle's defaults. Anything
//! else about the oracle (the Langevin chain's step, noise or averaging, 004's data term) is set
//! on the oracle itself, then passed to [`SmoothedOptimizer::with_oracle`].

use super::SmoothedOptimizer;
use crate::smoothing::{
    HeatGradient, HopfLaxGradient, LocalEntropyGradient, PlainGradient, SamGradient,
    TrivializedGradient,
};
use crate::update::Sgd;
use crate::{Real, Schedule};

/// **Entropy-SGD** (004 Alg. 1; 003 Alg. 2): the [`LocalEntropyGradient`] oracle followed by an
/// update rule (SGD unless [`SmoothedOptimizer::with_rule`]).
pub type EntropySgd<T = f64, U = Sgd> = SmoothedOptimizer<T, LocalEntropyGradient<T>, U>;

/// **HJ**, non-viscous Hamilton–Jacobi smoothing (003 eq. 4.42, §4.6.1.2): the
/// [`HopfLaxGradient`] oracle followed by an update rule.
pub type HamiltonJacobi<T = f64, U = Sgd> = SmoothedOptimizer<T, HopfLaxGradient<T>, U>;

/// **HEAT** (003 eq. 4.43): the [`HeatGradient`] oracle followed by an update rule.
pub type Heat<T = f64, U = Sgd> = SmoothedOptimizer<T, HeatGradient<T>, U>;

/// **SAM** (Foret et al. 2021, the baseline): the [`SamGradient`] oracle around the plain
/// gradient, followed by an update rule.
pub type Sam<T = f64, U = Sgd> = SmoothedOptimizer<T, SamGradient<T>, U>;

/// **Trivialized-SGD** (003 §2.3.3, Algorithm 1): the [`TrivializedGradient`] oracle followed by
/// an update rule.
pub type TrivializedSgd<T = f64, U = Sgd> = SmoothedOptimizer<T, TrivializedGradient<T>, U>;

/// Plain (stochastic) gradient descent x ← x − η∇f(x) (momentum or Adam with
/// [`SmoothedOptimizer::with_rule`]).
pub type GradientDescent<T = f64, U = Sgd> = SmoothedOptimizer<T, PlainGradient, U>;

impl<T: Real> EntropySgd<T> {
    /// Entropy-SGD with scope γ (a variance, γ = 1/γ₀₀₄; a constant or a scoping
    /// [`Schedule`], 003 §3.2.3), L Langevin steps of [`ExponentialSgld`](crate::ExponentialSgld)'s
    /// defaults and outer learning rate η. Outer step: x ← x − η(x − μ)/γ (004 eq. 9 with
    /// γ₀₀₄ = 1/γ; 004's ρ∇f is [`DataTerm`](crate::smoothing::DataTerm) around the oracle).
    pub fn new(scope: impl Into<Schedule<T>>, langevin_steps: usize, learning_rate: T) -> Self {
        Self::with_oracle(
            LocalEntropyGradient::new(scope, langevin_steps),
            learning_rate,
        )
    }
}

impl<T: Real> HamiltonJacobi<T> {
    /// HJ with scope γ (variance), L inner steps (003 uses 5) and outer learning rate η:
    /// x ← x − η(x − y_L)/γ (003 eq. 4.41 with ⟨y⟩ = y_L). The inner step is
    /// [`HopfLaxGradient::inner_step`].
    pub fn new(scope: impl Into<Schedule<T>>, inner_steps: usize, learning_rate: T) -> Self {
        Self::with_oracle(HopfLaxGradient::new(scope, inner_steps), learning_rate)
    }
}

impl<T: Real> Heat<T> {
    /// HEAT with perturbation variance γ, L samples and learning rate η:
    /// x ← x − (η/L) Σᵢ ∇f(x + εᵢ).
    pub fn new(scope: impl Into<Schedule<T>>, samples: usize, learning_rate: T) -> Self {
        Self::with_oracle(HeatGradient::new(scope, samples), learning_rate)
    }
}

impl<T: Real> Sam<T> {
    /// SAM with radius r and learning rate η (around another oracle:
    /// [`SamGradient::around`]).
    pub fn new(radius: T, learning_rate: T) -> Self {
        Self::with_oracle(SamGradient::new(radius), learning_rate)
    }
}

impl<T: Real> TrivializedSgd<T> {
    /// Trivialized-SGD with coupling J, p layers, n neurons, annealing constant τ₀ and learning
    /// rate η (003 Alg. 1; use `.with_rule(..)` for Nesterov or Adam as in §2.3.3).
    pub fn new(coupling: T, layers: usize, neurons: usize, tau0: T, learning_rate: T) -> Self {
        Self::with_oracle(
            TrivializedGradient::new(coupling, layers, neurons, tau0),
            learning_rate,
        )
    }
}

impl<T: Real> GradientDescent<T> {
    /// SGD with learning rate η.
    pub fn new(learning_rate: T) -> Self {
        Self::with_oracle(PlainGradient::new(), learning_rate)
    }
}
