//! One chunk's pass through the network, on examples already gathered into a [`Workspace`]:
//! forward, softmax cross-entropy, and the backward pass a [`Backward`] asks for.
//!
//! Examples are columns: a chunk of B examples is a `sizes[0] × B` column-major matrix, so the
//! products are Zℓ₊₁ = Wℓ·Aℓ (forward), ∇Wℓ = δℓ₊₁·Aℓᵀ and δℓ = Wℓᵀ·δℓ₊₁ (backward), each one
//! [`gemm()`] (the transposes are strided views, never copies). Weights are read and gradients
//! written in place in the flat parameter and gradient vectors.
//!
//! Why examples as columns: the weight matrix is then the left operand, column-major, which
//! `gemm` reads in place instead of packing it, and a minibatch is gathered with one `memcpy` per
//! example from the column-major dataset.

use super::linalg::{gemm, Mat};
use super::mlp::Mlp;
use super::workspace::{Dropout, Workspace};
use crate::objective::Parallelism;
use crate::Real;
use rand::RngCore;

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
/// [`deltas_pass`](super::pass::deltas_pass)). `par`, the caller's hint about the threads around
/// this pass, decides whether its large products may split (bit-identical either way).
#[allow(clippy::too_many_arguments)]
pub(super) fn chunk_pass<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &[T],
    b: usize,
    mut dropout: Option<&mut Dropout<'_>>,
    bw: Backward<'_, T>,
    first_product_done: bool,
    par: Parallelism,
) -> (f64, usize) {
    let s = mlp.sizes();
    let nl = mlp.layers();
    let (zero, one) = (T::zero(), T::one());

    // Forward.
    for l in 0..nl {
        let (n_in, n_out) = (s[l], s[l + 1]);
        let w_off = mlp.w_offset(l);
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
            gemm(one, w, Mat::new(a_prev, n_in, b), zero, out, par);
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
            let w_off = mlp.w_offset(l);
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
                gemm(one, dm, Mat::new(a_prev, n_in, b).t(), beta, gw, par);
                if *first {
                    gb.iter_mut().for_each(|v| *v = zero);
                }
                bias_gradient(gb, delta);
            }
            if l > 0 {
                let w = Mat::new(&x[w_off..w_off + n_out * n_in], n_out, n_in);
                let prev = &mut dbefore[l - 1][..n_in * b];
                // δℓ = Wᵀ·δℓ₊₁, with Wᵀ a strided view.
                gemm(one, w.t(), dm, zero, prev, par);
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

/// gb ← gb + Σ over the columns of `delta` (`gb.len()` rows): a bias gradient.
pub(super) fn bias_gradient<T: Real>(gb: &mut [T], delta: &[T]) {
    for col in delta.chunks_exact(gb.len()) {
        for (gv, &dv) in gb.iter_mut().zip(col) {
            *gv += dv;
        }
    }
}
