//! First-order update rules shared by every inner and outer loop of the optimizers.
//!
//! An update rule turns a (smoothed) gradient g and a learning rate η into a parameter update. The
//! papers write every algorithm "in the classical SGD setup" and note that lines 5 and 9 of
//! 004 Alg. 1 (lines 4 and 6 of 003 Alg. 2) may use momentum or Adam instead (004 §4.3, 003 §3.2.2);
//! Entropy-Adam (003 §3.3.5) is Adam fed with the local-entropy gradient. So the rule is a separate
//! value that the optimizers are generic over ([`UpdateRule`]): [`Sgd`], [`Momentum`] (classical or
//! Nesterov, Sutskever et al. 2013), [`Adam`] (Kingma & Ba 2014) and the [`WeightDecay`] wrapper.
//!
//! State buffers (velocity, moments) are sized on the first call and reused afterwards: a call
//! allocates nothing once the dimension is known.

use crate::error::{check, Result};
use crate::optim::CopyState;
use crate::Real;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// A first-order update rule x ← x − η·step(g) with internal state (003 §3.2.2: "we can easily
/// modify it to include techniques such as momentum and gradient pre-conditioning").
pub trait UpdateRule<T: Real>: Clone + Debug + Send + Sync + CopyState {
    /// Updates `x` in place from the gradient `grad` with learning rate `lr` (η).
    ///
    /// Precondition: `grad.len() == x.len()`, `grad` finite and `lr` finite and > 0. The
    /// optimizers of this crate check all three before calling, so this cannot fail there.
    /// Called directly with `grad.len() != x.len()`, the rules of this crate do nothing (x and
    /// the rule's state stay as they were) instead of panicking; [`try_apply`](Self::try_apply)
    /// checks the precondition and reports a typed error instead. Rules written outside the
    /// crate should behave the same (return early on a length mismatch).
    fn apply(&mut self, x: &mut DVector<T>, grad: &DVector<T>, lr: T);

    /// [`apply`](Self::apply) with its precondition checked, for calling a rule directly:
    /// [`Error::BufferLength`](crate::Error::BufferLength) (buffer `grad`) if `grad.len() !=
    /// x.len()`, [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) (`lr`)
    /// unless `lr` is finite and > 0, [`Error::NonFinite`](crate::Error::NonFinite) if `grad` is
    /// not finite; x and the state are then unchanged. An update that overflows x is not undone
    /// (use [`apply_keeping`](Self::apply_keeping) for that).
    fn try_apply(&mut self, x: &mut DVector<T>, grad: &DVector<T>, lr: T) -> Result<()> {
        self.validate()?;
        check::output("grad", x.len(), grad.len())?;
        check::positive("lr", lr)?;
        check::finite_vec("gradient", crate::error::site::UPDATE_RULE, grad)?;
        self.apply(x, grad, lr);
        Ok(())
    }

    /// Checks the rule's hyper-parameters (momentum μ, Adam's β₁, β₂, ε, the weight decay λ):
    /// constructors take values as given, and every optimizer calls this before each step. The
    /// default has none to check.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// [`apply`](Self::apply), with x's old values kept in `backup` (of x's length), returning
    /// whether the new x is finite: what an optimizer needs to undo a step that overflows. The
    /// default copies, applies and checks (three passes); [`Sgd`] does all three in one
    /// parallel pass. If `grad` or `backup` does not have x's length, nothing is written (x,
    /// `backup` and the state stay as they were) and `false` is returned.
    fn apply_keeping(
        &mut self,
        x: &mut DVector<T>,
        grad: &DVector<T>,
        lr: T,
        backup: &mut DVector<T>,
    ) -> bool {
        if grad.len() != x.len() || backup.len() != x.len() {
            return false;
        }
        backup.copy_from(x);
        self.apply(x, grad, lr);
        crate::kernels::all_finite(x.as_slice())
    }

    /// Forgets the state (momentum, Adam moments and step count).
    fn reset(&mut self);
}

/// Resizes `buf` to `n` zeros if its length differs (allocates only on the first call).
fn ensure_len<T: Real>(buf: &mut DVector<T>, n: usize) {
    if buf.len() != n {
        *buf = DVector::zeros(n);
    }
}

/// Plain stochastic gradient descent: x ← x − η g (004 Alg. 1 line 9, 003 Alg. 2 line 6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sgd;

impl<T: Real> UpdateRule<T> for Sgd {
    fn apply(&mut self, x: &mut DVector<T>, grad: &DVector<T>, lr: T) {
        if grad.len() != x.len() {
            return; // the documented no-op (see `UpdateRule::apply`)
        }
        x.axpy(-lr, grad, T::one());
    }
    fn apply_keeping(
        &mut self,
        x: &mut DVector<T>,
        grad: &DVector<T>,
        lr: T,
        backup: &mut DVector<T>,
    ) -> bool {
        if grad.len() != x.len() || backup.len() != x.len() {
            return false;
        }
        let g = grad.as_slice();
        crate::kernels::par_blocks_all(x.as_mut_slice(), backup.as_mut_slice(), |o, xb, bb| {
            crate::kernels::sgd_step_keeping(xb, bb, &g[o..o + xb.len()], lr)
        })
    }
    fn reset(&mut self) {}
}

/// SGD has no state.
impl CopyState for Sgd {
    fn copy_state(&mut self, _from: &Self) {}
}

/// SGD with momentum μ, classical (heavy ball) or Nesterov's (Sutskever et al. 2013), as used for
/// both loops of Entropy-SGD (003 §3.3: μ = 0.9) and for Parle's replicas (003 Remark 5.3).
///
/// With velocity v: classical v ← μv + g, x ← x − ηv; Nesterov v ← μv + g, x ← x − η(g + μv)
/// (the PyTorch form, equal to Sutskever's look-ahead form after a change of variables).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct Momentum<T: Real> {
    mu: T,
    nesterov: bool,
    velocity: DVector<T>,
}

impl<T: Real> Momentum<T> {
    /// Classical (heavy-ball) momentum with coefficient μ ∈ [0, 1).
    pub fn classical(mu: T) -> Self {
        Self::new(mu, false)
    }

    /// Nesterov's momentum with coefficient μ ∈ [0, 1) (003 Remark 5.3 uses μ = 0.9).
    pub fn nesterov(mu: T) -> Self {
        Self::new(mu, true)
    }

    /// Momentum μ ∈ [0, 1), Nesterov's form if `nesterov` (μ is checked by
    /// [`UpdateRule::validate`], before every step).
    pub fn new(mu: T, nesterov: bool) -> Self {
        Self {
            mu,
            nesterov,
            velocity: DVector::zeros(0),
        }
    }

    /// The momentum coefficient μ.
    pub fn mu(&self) -> T {
        self.mu
    }

    /// Whether this is Nesterov's momentum.
    pub fn is_nesterov(&self) -> bool {
        self.nesterov
    }

    /// The velocity v (empty before the first update).
    pub fn velocity(&self) -> &DVector<T> {
        &self.velocity
    }
}

/// A coefficient in [0, 1) (momentum μ, Adam's β₁ and β₂).
fn check_unit(name: &'static str, b: f64) -> Result<()> {
    if !(b.is_finite() && (0.0..1.0).contains(&b)) {
        return Err(crate::Error::InvalidHyperParameter {
            name,
            value: b,
            reason: "must be in [0, 1)",
        });
    }
    Ok(())
}

impl<T: Real> UpdateRule<T> for Momentum<T> {
    fn validate(&self) -> Result<()> {
        check_unit("mu", self.mu.as_f64())
    }
    fn apply(&mut self, x: &mut DVector<T>, grad: &DVector<T>, lr: T) {
        if grad.len() != x.len() {
            return; // the documented no-op (see `UpdateRule::apply`)
        }
        ensure_len(&mut self.velocity, x.len());
        // v ← μv + g
        self.velocity.axpy(T::one(), grad, self.mu);
        if self.nesterov {
            // x ← x − η(g + μv)
            x.axpy(-lr, grad, T::one());
            x.axpy(-lr * self.mu, &self.velocity, T::one());
        } else {
            x.axpy(-lr, &self.velocity, T::one());
        }
    }
    fn reset(&mut self) {
        self.velocity.fill(T::zero());
    }
}

/// The velocity (and μ, which travels with it), reusing the buffer.
impl<T: Real> CopyState for Momentum<T> {
    fn copy_state(&mut self, other: &Self) {
        self.mu = other.mu;
        self.nesterov = other.nesterov;
        self.velocity.copy_state(&other.velocity);
    }
}

/// Adam (Kingma & Ba 2014) with bias correction: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// x ← x − η m̂/(√v̂ + ε). Fed with the local-entropy gradient it is Entropy-Adam (003 §3.3.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct Adam<T: Real> {
    beta1: T,
    beta2: T,
    eps: T,
    m: DVector<T>,
    v: DVector<T>,
    t: u64,
}

impl<T: Real> Adam<T> {
    /// Adam with β₁, β₂ ∈ [0, 1) and ε > 0 (checked by [`UpdateRule::validate`], before every
    /// step).
    pub fn new(beta1: T, beta2: T, eps: T) -> Self {
        Self {
            beta1,
            beta2,
            eps,
            m: DVector::zeros(0),
            v: DVector::zeros(0),
            t: 0,
        }
    }

    /// Kingma & Ba's defaults β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸.
    pub fn standard() -> Self {
        Self::new(T::lit(0.9), T::lit(0.999), T::lit(1e-8))
    }

    /// Number of updates applied so far (the t of the bias correction).
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl<T: Real> UpdateRule<T> for Adam<T> {
    fn validate(&self) -> Result<()> {
        check_unit("beta1", self.beta1.as_f64())?;
        check_unit("beta2", self.beta2.as_f64())?;
        check::positive("eps", self.eps).map(|_| ())
    }
    fn apply(&mut self, x: &mut DVector<T>, grad: &DVector<T>, lr: T) {
        if grad.len() != x.len() {
            return; // the documented no-op (see `UpdateRule::apply`)
        }
        let n = x.len();
        ensure_len(&mut self.m, n);
        ensure_len(&mut self.v, n);
        self.t += 1;
        let one = T::one();
        let c1 = one - self.beta1.powi(self.t.min(i32::MAX as u64) as i32);
        let c2 = one - self.beta2.powi(self.t.min(i32::MAX as u64) as i32);
        for i in 0..n {
            let g = grad[i];
            self.m[i] = self.beta1 * self.m[i] + (one - self.beta1) * g;
            self.v[i] = self.beta2 * self.v[i] + (one - self.beta2) * g * g;
            let mhat = self.m[i] / c1;
            let vhat = self.v[i] / c2;
            x[i] -= lr * mhat / (vhat.sqrt() + self.eps);
        }
    }
    fn reset(&mut self) {
        self.m.fill(T::zero());
        self.v.fill(T::zero());
        self.t = 0;
    }
}

/// The moments and step count (and the coefficients), reusing the buffers.
impl<T: Real> CopyState for Adam<T> {
    fn copy_state(&mut self, other: &Self) {
        self.beta1 = other.beta1;
        self.beta2 = other.beta2;
        self.eps = other.eps;
        self.m.copy_state(&other.m);
        self.v.copy_state(&other.v);
        self.t = other.t;
    }
}

/// Coupled L2 weight decay around any rule: the rule receives g + λx (the "weight decay" of the
/// experiments in 004 §5 and 003 §3.3, §5.4). Use λ = 0 to disable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "T: Real, U: Serialize + serde::de::DeserializeOwned")]
pub struct WeightDecay<T: Real, U> {
    inner: U,
    decay: T,
    #[serde(skip)]
    scratch: DVector<T>,
}

impl<T: Real, U: UpdateRule<T>> WeightDecay<T, U> {
    /// Wraps `inner` with weight decay λ ≥ 0 (checked by [`UpdateRule::validate`]).
    pub fn new(inner: U, decay: T) -> Self {
        Self {
            inner,
            decay,
            scratch: DVector::zeros(0),
        }
    }

    /// The wrapped rule.
    pub fn inner(&self) -> &U {
        &self.inner
    }
}

impl<T: Real, U: UpdateRule<T>> UpdateRule<T> for WeightDecay<T, U> {
    fn validate(&self) -> Result<()> {
        check::non_negative("weight_decay", self.decay)?;
        self.inner.validate()
    }
    fn apply(&mut self, x: &mut DVector<T>, grad: &DVector<T>, lr: T) {
        if grad.len() != x.len() {
            return; // the documented no-op (see `UpdateRule::apply`)
        }
        ensure_len(&mut self.scratch, x.len());
        self.scratch.copy_from(grad);
        self.scratch.axpy(self.decay, x, T::one());
        self.inner.apply(x, &self.scratch, lr);
    }
    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// The wrapped rule's state (and λ).
impl<T: Real, U: CopyState> CopyState for WeightDecay<T, U> {
    fn copy_state(&mut self, other: &Self) {
        self.decay = other.decay;
        self.inner.copy_state(&other.inner);
    }
}
