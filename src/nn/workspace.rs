//! Batched forward and backward passes through matrix products, on reusable workspaces.
//!
//! Examples are columns: a chunk of B examples is a `sizes[0] × B` column-major matrix, so the
//! products are Zℓ₊₁ = Wℓ·Aℓ (forward), ∇Wℓ = δℓ₊₁·Aℓᵀ and δℓ = Wℓᵀ·δℓ₊₁ (backward), each one
//! [`gemm`] (→ the `gemm` crate; the transposes are strided views, never copies). Weights are read
//! and gradients written in place in the flat parameter and gradient vectors.
//!
//! Orientation: examples as columns put the weight matrix on the left, column-major, where `gemm`
//! reads it in place instead of packing it (with `matrixmultiply`, which packs every operand on
//! every call, packing was 18% of a gradient call at minibatch 20), and a minibatch is gathered
//! with one `memcpy` per example from the column-major dataset.
//!
//! Everything outside the products is small: on 784→200→10 in f32 at minibatch 20 (one thread,
//! `perf`), gathering the inputs takes ≈ 2% of a gradient call, the bias/ReLU, softmax, bias
//! gradient and ReLU′ loops together ≈ 1%, `exp`/`ln` 0.4%, the workspace pool's lock < 0.1%;
//! the rest is the `gemm` microkernels.
//!
//! Large index sets (`Batch::Full`, evaluation) are processed in chunks of at most
//! [`DEFAULT_CHUNK`] examples, which bounds a workspace's memory whatever the dataset size.

use super::gemm::{gemm, Mat};
use super::mlp::{Evaluation, Mlp};
use crate::data::Dataset;
use crate::rng::Prng;
use crate::{Error, Real, Result};
use nalgebra::DVector;
use rand::RngCore;
use std::sync::Mutex;

/// Largest number of examples pushed through the network at once.
pub(crate) const DEFAULT_CHUNK: usize = 1024;

/// Scratch memory for one pass: gathered inputs and labels, per-layer activations and deltas.
/// Grows to the largest chunk seen and is then reused (no allocation per call).
#[derive(Clone, Debug, Default)]
pub(crate) struct Workspace<T> {
    /// The gathered inputs (`sizes[0] × B`).
    pub(super) input: Vec<T>,
    labels: Vec<u8>,
    /// acts[ℓ]: output of layer ℓ (`sizes[ℓ+1] × B`): post-ReLU/dropout for hidden layers,
    /// logits for the last.
    pub(super) acts: Vec<Vec<T>>,
    /// deltas[ℓ]: ∂loss/∂Zℓ₊₁ (`sizes[ℓ+1] × B`).
    pub(super) deltas: Vec<Vec<T>>,
    cap: usize,
    /// The examples whose inputs and labels `input` and `labels` hold, if one gather put them
    /// there: importance sampling evaluates its J samples on one minibatch, which is then
    /// gathered once per workspace instead of once per sample.
    gathered: Vec<usize>,
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

    fn ensure(&mut self, mlp: &Mlp, b: usize) {
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
    /// A workspace serves one objective's dataset; [`evaluate`], which may read another, forgets
    /// what it gathered. `false` if an index is out of range.
    fn gather<'d>(&mut self, data: &'d Dataset<T>, idx: &[usize]) -> bool
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

/// What a pass computes after the loss.
pub(crate) enum Backward<'g, T> {
    /// Nothing: cost only.
    None,
    /// Adds (or writes, if `first`) `scale ·` ∇ of the chunk's loss sum into `grad`.
    Gradient {
        grad: &'g mut [T],
        scale: T,
        first: bool,
    },
    /// Only the deltas δℓ of `scale ·` the loss sum, left in the workspace: the caller forms the
    /// weight gradients (the mean gradient stacks many minibatches' deltas into one product).
    Deltas { scale: T },
}

/// Loss sum and correct count of one chunk already gathered in `ws` (first `b` columns), then
/// the backward pass `bw`.
///
/// With `first_product_done`, `acts[0]` already holds W₀·X (the caller formed it, see
/// [`deltas_pass`]).
fn chunk_pass<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &[T],
    b: usize,
    mut dropout: Option<&mut Dropout<'_>>,
    bw: Backward<'_, T>,
    first_product_done: bool,
) -> (f64, usize) {
    let s = mlp.sizes();
    let nl = mlp.layers();
    let (zero, one) = (T::zero(), T::one());

    // Forward.
    for l in 0..nl {
        let (n_in, n_out) = (s[l], s[l + 1]);
        let w_off = mlp.weight_offset(l);
        let w = Mat::new(&x[w_off..w_off + n_out * n_in], n_out, n_in);
        let bias = &x[w_off + n_out * n_in..w_off + n_out * n_in + n_out];
        let (before, rest) = ws.acts.split_at_mut(l);
        let a_prev: &[T] = if l == 0 {
            &ws.input[..n_in * b]
        } else {
            &before[l - 1][..n_in * b]
        };
        let out = &mut rest[0][..n_out * b];
        if l > 0 || !first_product_done {
            gemm(one, w, Mat::new(a_prev, n_in, b), zero, out);
        }
        let hidden = l + 1 < nl;
        for col in out.chunks_exact_mut(n_out) {
            for (v, &bi) in col.iter_mut().zip(bias) {
                *v += bi;
                // `v < 0` (not `v > 0`) so a NaN stays NaN and is reported, not hidden.
                if hidden && *v < zero {
                    *v = zero;
                }
            }
        }
        if hidden {
            if let Some(d) = dropout.as_deref_mut() {
                let sc = T::lit(d.scale);
                for v in out.iter_mut() {
                    if (d.rng.next_u32() as u64) < d.keep_below {
                        *v *= sc;
                    } else {
                        *v = zero;
                    }
                }
            }
        }
    }

    // Loss, accuracy and the output delta (softmax − one-hot), per column.
    let k = s[nl];
    let mut loss = 0.0f64;
    let mut correct = 0usize;
    let (want_grad, gscale) = match &bw {
        Backward::None => (false, one),
        Backward::Gradient { scale, .. } | Backward::Deltas { scale } => (true, *scale),
    };
    {
        let logits = &ws.acts[nl - 1][..k * b];
        let delta = &mut ws.deltas[nl - 1][..k * b];
        for (j, (z, d)) in logits
            .chunks_exact(k)
            .zip(delta.chunks_exact_mut(k))
            .enumerate()
        {
            let y = ws.labels[j] as usize;
            let mut m = z[0];
            let mut arg = 0;
            for (i, &v) in z.iter().enumerate().skip(1) {
                if v > m {
                    m = v;
                    arg = i;
                }
            }
            if !m.is_finite() {
                // Make a non-finite logit visible (∞ − ∞ would otherwise be hidden in the max).
                m = T::lit(f64::NAN);
            }
            // exp(z − m) is kept in the delta column (scratch on a cost-only pass), so each
            // logit costs one `exp`.
            let mut sum = zero;
            for (dv, &v) in d.iter_mut().zip(z) {
                *dv = (v - m).exp();
                sum += *dv;
            }
            let lse = m + sum.ln();
            loss += (lse - z[y]).as_f64();
            correct += usize::from(arg == y);
            if want_grad {
                let inv = gscale / sum;
                for dv in d.iter_mut() {
                    *dv *= inv;
                }
                d[y] -= gscale;
            }
        }
    }

    // Backward.
    let mut g = match bw {
        Backward::None => return (loss, correct),
        Backward::Gradient { grad, first, .. } => Some((grad, first)),
        Backward::Deltas { .. } => None,
    };
    {
        let keep_scale = T::lit(dropout.as_ref().map(|d| d.scale).unwrap_or(1.0));
        for l in (0..nl).rev() {
            let (n_in, n_out) = (s[l], s[l + 1]);
            let w_off = mlp.weight_offset(l);
            let (dbefore, drest) = ws.deltas.split_at_mut(l);
            let delta = &drest[0][..n_out * b];
            let a_prev: &[T] = if l == 0 {
                &ws.input[..n_in * b]
            } else {
                &ws.acts[l - 1][..n_in * b]
            };
            let dm = Mat::new(delta, n_out, b);
            if let Some((g, first)) = g.as_mut() {
                let (gw, gb) = g[w_off..w_off + (n_in + 1) * n_out].split_at_mut(n_in * n_out);
                // ∇Wℓ = δ·Aᵀ, with Aᵀ a strided view.
                let beta = if *first { zero } else { one };
                gemm(one, dm, Mat::new(a_prev, n_in, b).t(), beta, gw);
                if *first {
                    gb.iter_mut().for_each(|v| *v = zero);
                }
                bias_gradient(gb, delta);
            }
            if l > 0 {
                let w = Mat::new(&x[w_off..w_off + n_out * n_in], n_out, n_in);
                let prev = &mut dbefore[l - 1][..n_in * b];
                // δℓ = Wᵀ·δℓ₊₁, with Wᵀ a strided view.
                gemm(one, w.t(), dm, zero, prev);
                // ReLU′ and the dropout mask in one test: a stored activation is > 0 iff the unit
                // was kept and its pre-activation was > 0; then ∂A/∂Z = 1/(1−p).
                for (dv, &av) in prev.iter_mut().zip(a_prev) {
                    *dv = if av > zero { *dv * keep_scale } else { zero };
                }
            }
        }
    }
    (loss, correct)
}

/// Forward (and backward if `grad`) over the examples `idx` of `data`, in chunks.
/// Returns (loss sum, correct count), or `None` if an index is out of range.
/// With `grad`, writes ∇(loss sum / idx.len()) = ∇(mean loss) into it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &[T],
    data: &Dataset<T>,
    idx: &[usize],
    chunk: usize,
    mut dropout: Option<&mut Dropout<'_>>,
    mut grad: Option<&mut [T]>,
) -> Option<(f64, usize)> {
    let n = idx.len();
    let scale = T::lit(1.0 / n as f64);
    ws.ensure(mlp, chunk.min(n));
    let (mut loss, mut correct) = (0.0, 0);
    for (c, part) in idx.chunks(chunk).enumerate() {
        let b = part.len();
        if !ws.gather(data, part) {
            return None;
        }
        let bw = match grad.as_deref_mut() {
            Some(grad) => Backward::Gradient {
                grad,
                scale,
                first: c == 0,
            },
            None => Backward::None,
        };
        let (ls, cr) = chunk_pass(mlp, ws, x, b, dropout.as_deref_mut(), bw, false);
        loss += ls;
        correct += cr;
    }
    Some((loss, correct))
}

/// gb ← gb + Σ over the columns of `delta` (`gb.len()` rows): a bias gradient.
pub(super) fn bias_gradient<T: Real>(gb: &mut [T], delta: &[T]) {
    for col in delta.chunks_exact(gb.len()) {
        for (gv, &dv) in gb.iter_mut().zip(col) {
            *gv += dv;
        }
    }
}

/// Forward over the minibatch `idx` (one chunk: `idx.len()` examples at once) with the
/// parameters `x` drawn block by block, and the deltas of `scale ·` its loss sum, left in `ws`
/// for the caller's weight gradients. Returns the loss sum, or `None` if an index is out of range.
///
/// `draw(offset, part)` writes `x[offset..offset + part.len()]`; it is called for consecutive
/// blocks of `block` elements (the last may be shorter). The first layer's product W₀·X is
/// accumulated over the columns of W₀ each block completes, while they are still in cache (W₀
/// is most of the parameters: 627 of 636 KB on 784→200→10).
#[allow(clippy::too_many_arguments)]
pub(super) fn deltas_pass<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &mut [T],
    draw: &dyn Fn(usize, &mut [T]),
    block: usize,
    data: &Dataset<T>,
    idx: &[usize],
    dropout: Option<&mut Dropout<'_>>,
    scale: T,
) -> Option<f64> {
    let b = idx.len();
    ws.ensure(mlp, b);
    if !ws.gather(data, idx) {
        return None;
    }
    let (n_in, n_out) = (mlp.sizes()[0], mlp.sizes()[1]);
    let (zero, one) = (T::zero(), T::one());
    let input = Mat::new(&ws.input[..n_in * b], n_in, b);
    let out = &mut ws.acts[0][..n_out * b];
    let mut done = 0; // columns of W₀ (inputs) multiplied so far
    let mut offset = 0;
    while offset < x.len() {
        let end = (offset + block).min(x.len());
        draw(offset, &mut x[offset..end]);
        offset = end;
        let cols = (end / n_out).min(n_in);
        if cols > done {
            // Z₀ (+)= W₀[:, done..cols] · X[done..cols, :]; W₀ starts the flat vector.
            let w = Mat::new(&x[done * n_out..cols * n_out], n_out, cols - done);
            let rows = Mat {
                data: &input.data[done..],
                rows: cols - done,
                ..input
            };
            gemm(one, w, rows, if done == 0 { zero } else { one }, out);
            done = cols;
        }
    }
    let bw = Backward::Deltas { scale };
    Some(chunk_pass(mlp, ws, x, b, dropout, bw, true).0)
}

/// A pass over the minibatch `idx` with the first layer's product supplied by the caller:
/// `first(z0)` writes Z₀ without its bias (`sizes[1] × B`), from inputs the caller holds (only
/// the labels are gathered here); then the rest of the forward pass and `bw` (the cost alone, or
/// the deltas). W₀'s entries of `x` are never read (no pass reads W₀ but the forward product, and
/// δ of the inputs is not formed). Returns the loss sum, or `None` if an index is out of range.
#[allow(clippy::too_many_arguments)]
pub(super) fn pass_from_first<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &[T],
    data: &Dataset<T>,
    idx: &[usize],
    dropout: Option<&mut Dropout<'_>>,
    bw: Backward<'_, T>,
    first: impl FnOnce(&mut [T]),
) -> Option<f64> {
    let b = idx.len();
    ws.ensure(mlp, b);
    // The inputs are not gathered: what `input` held is no longer known to match `gathered`.
    ws.gathered.clear();
    for (l, &i) in ws.labels.iter_mut().zip(idx) {
        if i >= data.len() {
            return None;
        }
        *l = data.label(i);
    }
    first(&mut ws.acts[0][..mlp.sizes()[1] * b]);
    Some(chunk_pass(mlp, ws, x, b, dropout, bw, true).0)
}

/// Loss and accuracy without dropout (reporting), with every input checked.
pub(crate) fn evaluate<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &DVector<T>,
    data: &Dataset<T>,
    indices: Option<&[usize]>,
    chunk: usize,
) -> Result<Evaluation> {
    check_data(mlp, data)?;
    crate::error::check::dim(mlp.num_params(), x.len())?;
    let all: Vec<usize>;
    let idx = match indices {
        Some(i) => i,
        None => {
            // Reporting only: one allocation per evaluation is fine.
            all = (0..data.len()).collect();
            &all
        }
    };
    if idx.is_empty() {
        return Err(Error::Data {
            path: "(in-memory dataset)".into(),
            problem: "no examples to evaluate".into(),
        });
    }
    // `data` may be another dataset than the one the workspace serves (a test set): nothing
    // gathered before is valid for it, and nothing gathered from it stays.
    ws.gathered.clear();
    let r = run(mlp, ws, x.as_slice(), data, idx, chunk, None, None);
    ws.gathered.clear();
    let (loss, correct) = r.ok_or_else(|| Error::Data {
        path: "(in-memory dataset)".into(),
        problem: format!("evaluation index out of range (n = {})", data.len()),
    })?;
    Ok(Evaluation {
        loss: loss / idx.len() as f64,
        accuracy: correct as f64 / idx.len() as f64,
        examples: idx.len(),
    })
}

/// The dataset's features and classes must match the network's input and output sizes.
pub(crate) fn check_data<T: Real>(mlp: &Mlp, data: &Dataset<T>) -> Result<()> {
    crate::error::check::dim(mlp.inputs(), data.features())?;
    crate::error::check::dim(mlp.outputs(), data.classes())
}
