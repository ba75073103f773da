//! Reusable scratch for the MLP's passes: [`Workspace`] (gathered inputs and labels, per-layer
//! activations and deltas), the pool that keeps one per concurrent call ([`take`], [`give`]),
//! and the dropout state of one pass ([`Dropout`]). A workspace grows to the largest chunk it
//! has seen and is then reused, so a pass allocates nothing once warm.

use super::mlp::Mlp;
use crate::data::Dataset;
use crate::rng::Prng;
use crate::Real;
use std::sync::Mutex;

/// Largest number of examples pushed through the network at once.
pub(crate) const DEFAULT_CHUNK: usize = 1024;

/// Scratch memory for one pass: gathered inputs and labels, per-layer activations and deltas.
/// Grows to the largest chunk seen and is then reused (no allocation per call).
#[derive(Clone, Debug, Default)]
pub(crate) struct Workspace<T> {
    /// The gathered inputs (`sizes[0] × B`).
    pub(super) input: Vec<T>,
    /// The gathered labels (`B`).
    pub(super) labels: Vec<u8>,
    /// acts[ℓ]: output of layer ℓ (`sizes[ℓ+1] × B`): post-ReLU/dropout for hidden layers,
    /// logits for the last.
    pub(super) acts: Vec<Vec<T>>,
    /// deltas[ℓ]: ∂loss/∂Zℓ₊₁ (`sizes[ℓ+1] × B`).
    pub(super) deltas: Vec<Vec<T>>,
    cap: usize,
    /// The examples whose inputs and labels `input` and `labels` hold, if one gather put them
    /// there: importance sampling evaluates its J samples on one minibatch, which is then
    /// gathered once per workspace instead of once per sample.
    pub(super) gathered: Vec<usize>,
}

impl<T: Real> Workspace<T> {
    pub(crate) fn new(mlp: &Mlp) -> Self {
        let l = mlp.layers();
        Self {
            input: Vec::new(),
            labels: Vec::new(),
            acts: vec![Vec::new(); l],
            deltas: vec![Vec::new(); l],
            cap: 0,
            gathered: Vec::new(),
        }
    }

    pub(super) fn ensure(&mut self, mlp: &Mlp, b: usize) {
        if b <= self.cap {
            return;
        }
        let s = mlp.sizes();
        self.input.resize(s[0] * b, T::zero());
        self.labels.resize(b, 0);
        for l in 0..mlp.layers() {
            self.acts[l].resize(s[l + 1] * b, T::zero());
            self.deltas[l].resize(s[l + 1] * b, T::zero());
        }
        self.cap = b;
    }

    /// Gathers the inputs and labels of examples `idx` of `data`, unless they are there already.
    /// A workspace serves one objective's dataset; [`evaluate`](super::pass::evaluate), which
    /// may read another, forgets what it gathered. `false` if an index is out of range.
    pub(super) fn gather<'d>(&mut self, data: &'d Dataset<T>, idx: &[usize]) -> bool
    where
        T: 'd,
    {
        if self.gathered == idx {
            return true;
        }
        self.gathered.clear();
        if !data.gather_into(idx, &mut self.input) {
            return false;
        }
        for (l, &i) in self.labels.iter_mut().zip(idx) {
            *l = data.label(i);
        }
        self.gathered.extend_from_slice(idx);
        true
    }
}

/// An item from a pool of scratch (one per concurrent call, kept for reuse), or a new one.
pub(super) fn take<X>(pool: &Mutex<Vec<X>>, make: impl FnOnce() -> X) -> X {
    let x = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
    x.unwrap_or_else(make)
}

/// Returns `x` to its pool for the next call.
pub(super) fn give<X>(pool: &Mutex<Vec<X>>, x: X) {
    pool.lock().unwrap_or_else(|e| e.into_inner()).push(x);
}

/// Dropout on one pass: a generator derived from the call's data and the keep threshold.
pub(crate) struct Dropout<'a> {
    pub(crate) rng: &'a mut Prng,
    /// Keep a unit iff a uniform u32 is < this (= (1−p)·2³²).
    pub(crate) keep_below: u64,
    /// 1/(1−p): inverted-dropout scale of kept units.
    pub(crate) scale: f64,
}

impl<'a> Dropout<'a> {
    /// Dropout with probability `p` ∈ [0, 1) drawing its masks from `rng`.
    pub(crate) fn new(rng: &'a mut Prng, p: f64) -> Self {
        Self {
            rng,
            keep_below: ((1.0 - p) * 4_294_967_296.0) as u64,
            scale: 1.0 / (1.0 - p),
        }
    }
}
