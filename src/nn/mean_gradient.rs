//! The MLP's mean of many gradients ([`MeanGradient`]): Robbins–Monro's (1/M) Σ_m ∇f(z_m), each
//! z_m on its own minibatch (000 Alg. 5, eq. 17).
//!
//! Per point m, in parallel over the points: z_m from the caller, block by block, with the first
//! layer's product accumulated over the columns each block completes (while they are in cache),
//! then the rest of the forward pass on minibatch m and the deltas δℓ,m of every layer with z_m's
//! own weights — one thread per point, so the noise that builds z_m and the point's products stay
//! on one core. Then, once for all points, each layer's weight gradient Σ_m δℓ,m·Aℓ,mᵀ is ONE
//! product over the M minibatches side by side (N = Σ_m B_m columns): at minibatch 20 and M = 30,
//! a [200×600]·[600×784] product instead of 30 [200×20]·[20×784] ones, and no per-point gradient
//! vector is written and summed.
//!
//! Every point's work depends on m alone and the stacked products split only where that is
//! bit-identical (`gemm`), so the result does not depend on the thread count.

use super::chunk::bias_gradient;
use super::linalg::{gemm, Mat};
use super::objective::MlpObjective;
use super::pass;
use super::workspace::{give, take, Dropout, Workspace};
use crate::objective::Parallelism;
use crate::objective::{Batch, MeanGradient, NoiseStream, POINT_BLOCK};
use crate::Real;
use nalgebra::DVector;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// The M minibatches' inputs, activations and deltas side by side, and per-point results.
#[derive(Debug)]
pub(crate) struct Stacks<T: Real> {
    /// One buffer (see [`Layout`]): the inputs (`sizes[0] × N`), the deltas of every layer and
    /// the activations of the hidden layers (`sizes[ℓ+1] × N` each), column-major.
    pub(super) buf: Vec<T>,
    /// First column of each point's minibatch.
    pub(super) offsets: Vec<usize>,
    /// Loss sum of each point's minibatch.
    pub(super) losses: Vec<f64>,
    /// Point and gradient for the one-point-at-a-time path.
    z: DVector<T>,
    g: DVector<T>,
    /// Importance sampling's projected path (`weighted_mean.rs`): X, W₀·X, Lᵀ, L⁻¹Xᵀ, … in T,
    /// and L in f64.
    pub(super) aux: Vec<T>,
    pub(super) aux64: Vec<f64>,
}

impl<T: Real> Stacks<T> {
    /// Sets the M minibatches side by side: each one's first column, the buffer's size for
    /// N = Σ_m B_m columns, and one zeroed loss per minibatch.
    pub(super) fn lay_out<'a>(&mut self, sizes: &'a [usize], batches: &[Batch]) -> Layout<'a> {
        self.offsets.clear();
        let mut n = 0;
        for b in batches {
            self.offsets.push(n);
            n += b.indices().map_or(0, <[usize]>::len);
        }
        let lay = Layout { sizes, n };
        self.buf.resize(lay.len(), T::zero());
        self.losses.clear();
        self.losses.resize(batches.len(), 0.0);
        lay
    }
}

impl<T: Real> Default for Stacks<T> {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            offsets: Vec::new(),
            losses: Vec::new(),
            z: DVector::zeros(0),
            g: DVector::zeros(0),
            aux: Vec::new(),
            aux64: Vec::new(),
        }
    }
}

/// One point's parameters and forward/backward workspace (and the projected path's scratch,
/// see [`super::projected`]).
#[derive(Debug)]
pub(crate) struct PointScratch<T: Real> {
    pub(super) z: DVector<T>,
    pub(super) ws: Workspace<T>,
    /// Projected path: Ζ then the noise of every parameter after W₀.
    pub(super) noise: Vec<T>,
    /// Projected path: XᵀX, its Cholesky factor in f64, and Lᵀ.
    pub(super) gram: Vec<T>,
    pub(super) chol: Vec<f64>,
    pub(super) lt: Vec<T>,
}

impl<T: Real> PointScratch<T> {
    pub(super) fn new(mlp: &super::Mlp) -> Self {
        Self {
            z: DVector::zeros(mlp.num_params()),
            ws: Workspace::new(mlp),
            noise: Vec::new(),
            gram: Vec::new(),
            chol: Vec::new(),
            lt: Vec::new(),
        }
    }
}

/// Where each matrix of [`Stacks::buf`] starts, for N columns.
pub(super) struct Layout<'a> {
    pub(super) sizes: &'a [usize],
    pub(super) n: usize,
}

impl Layout<'_> {
    fn layers(&self) -> usize {
        self.sizes.len() - 1
    }
    pub(super) fn input(&self) -> usize {
        0
    }
    pub(super) fn delta(&self, l: usize) -> usize {
        self.n * (self.sizes[0] + self.sizes[1..=l].iter().sum::<usize>())
    }
    pub(super) fn act(&self, l: usize) -> usize {
        self.delta(self.layers()) + self.n * self.sizes[1..=l].iter().sum::<usize>()
    }
    pub(super) fn len(&self) -> usize {
        self.act(self.layers() - 1)
    }
}

/// A buffer that the points write in parallel, each in its own columns.
#[derive(Clone, Copy)]
pub(super) struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: only `cols` dereferences the pointer, on ranges that the callers keep disjoint.
unsafe impl<T: Send> Send for Shared<T> {}
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub(super) fn new(v: &mut [T]) -> Self {
        Self {
            ptr: v.as_mut_ptr(),
            len: v.len(),
        }
    }

    /// Elements `start..start + len`.
    ///
    /// SAFETY: no two live slices from this buffer overlap, and the buffer outlives them.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn range(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.len);
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }
}

impl<T: Real> MeanGradient<T> for MlpObjective<T> {
    fn mean_gradient(
        &self,
        batches: &[Batch],
        point: &(dyn Fn(usize, usize, &mut [T]) + Sync),
        grad: &mut DVector<T>,
    ) -> T {
        let nan = T::lit(f64::NAN);
        let d = self.mlp.num_params();
        let m_count = batches.len();
        if m_count == 0 || grad.len() != d {
            grad.fill(nan);
            return nan;
        }
        let mut st = take(&self.stacks, Stacks::default);
        let stacked = batches.iter().all(|b| {
            b.indices()
                .is_some_and(|i| !i.is_empty() && i.len() <= self.chunk)
        });
        let r = if stacked {
            self.stacked(&mut st, batches, point, grad)
        } else {
            self.one_at_a_time(&mut st, batches, point, grad)
        };
        give(&self.stacks, st);
        r.unwrap_or_else(|| {
            grad.fill(nan);
            nan
        })
    }

    fn gaussian_mean_gradient(
        &self,
        x: &DVector<T>,
        s: T,
        batches: &[Batch],
        noise: NoiseStream,
        grad: &mut DVector<T>,
    ) -> Option<T> {
        let nan = T::lit(f64::NAN);
        let d = self.mlp.num_params();
        let n_in = self.mlp.sizes()[0];
        // Worth it (and Ζ·Lᵀ cheaper than Ξ₀·X) only for minibatches smaller than the input.
        let projectable = !batches.is_empty()
            && batches.iter().all(|b| {
                b.indices()
                    .is_some_and(|i| !i.is_empty() && i.len() < n_in && i.len() <= self.chunk)
            });
        if !projectable {
            return None;
        }
        if x.len() != d || grad.len() != d {
            grad.fill(nan);
            return Some(nan);
        }
        let mut st = take(&self.stacks, Stacks::default);
        let r = self.projected(&mut st, x.as_slice(), s, batches, noise, grad);
        give(&self.stacks, st);
        Some(r.unwrap_or_else(|| {
            grad.fill(nan);
            nan
        }))
    }
}

impl<T: Real> MlpObjective<T> {
    /// Minibatches larger than a chunk, or the full index set: one gradient per point, summed.
    fn one_at_a_time(
        &self,
        st: &mut Stacks<T>,
        batches: &[Batch],
        point: &(dyn Fn(usize, usize, &mut [T]) + Sync),
        grad: &mut DVector<T>,
    ) -> Option<T> {
        let d = self.mlp.num_params();
        if st.z.len() != d {
            st.z = DVector::zeros(d);
            st.g = DVector::zeros(d);
        }
        let inv_m = T::one() / T::lit(batches.len() as f64);
        grad.fill(T::zero());
        let mut loss = T::zero();
        for (m, batch) in batches.iter().enumerate() {
            for (b, part) in st.z.as_mut_slice().chunks_mut(POINT_BLOCK).enumerate() {
                point(m, b * POINT_BLOCK, part);
            }
            loss += self.pass(&st.z, batch, Some(&mut st.g), Parallelism::Unknown);
            crate::kernels::axpy(grad.as_mut_slice(), inv_m, st.g.as_slice());
        }
        Some(loss * inv_m)
    }

    /// The stacked path (see the module docs). `None` if an index is out of range.
    fn stacked(
        &self,
        st: &mut Stacks<T>,
        batches: &[Batch],
        point: &(dyn Fn(usize, usize, &mut [T]) + Sync),
        grad: &mut DVector<T>,
    ) -> Option<T> {
        let sizes = self.mlp.sizes();
        let m_count = batches.len();
        let lay = st.lay_out(sizes, batches);
        let inv_m = 1.0 / m_count as f64;

        // Per point: forward and deltas with z_m's weights, copied into the point's columns.
        let (buf, losses) = (Shared::new(&mut st.buf), Shared::new(&mut st.losses));
        let failed = AtomicBool::new(false);
        let offsets = &st.offsets;
        (0..m_count).into_par_iter().for_each(|m| {
            let idx = batches[m].indices().unwrap_or(&[]);
            let (b, c0) = (idx.len(), offsets[m]);
            let mut p = take(&self.points, || PointScratch::new(&self.mlp));
            let mut drng = self.dropout_rng(idx);
            let mut dropout = drng.as_mut().map(|r| Dropout::new(r, self.mlp.dropout()));
            let scale = T::lit(inv_m / b as f64);
            let (x, ws) = (p.z.as_mut_slice(), &mut p.ws);
            let draw = |offset: usize, part: &mut [T]| point(m, offset, part);
            let (mlp, data, dropout) = (&self.mlp, &self.data, dropout.as_mut());
            match pass::deltas_pass(mlp, ws, x, &draw, POINT_BLOCK, data, idx, dropout, scale) {
                None => failed.store(true, Ordering::Relaxed),
                Some(loss) => {
                    // SAFETY: point m writes only its own columns c0..c0 + b of each matrix
                    // and its own loss; `st` outlives the parallel loop.
                    unsafe {
                        let rows = sizes[0];
                        buf.range(lay.input() + rows * c0, rows * b)
                            .copy_from_slice(&p.ws.input[..rows * b]);
                        store_point(&buf, &lay, &p.ws, c0, b);
                        losses.range(m, 1)[0] = loss / b as f64;
                    }
                }
            }
            give(&self.points, p);
        });
        (!failed.into_inner()).then(|| self.finish(st, &lay, grad))
    }

    /// Once every point's columns are in the stacks: the weight gradients into `grad`, and the
    /// mean loss (1/M) Σ_m f(z_m).
    pub(super) fn finish(&self, st: &Stacks<T>, lay: &Layout<'_>, grad: &mut DVector<T>) -> T {
        weight_gradients(&self.mlp, &st.buf, lay, grad);
        let loss: f64 = st.losses.iter().sum();
        T::lit(loss * (1.0 / st.losses.len() as f64))
    }
}

/// Copies a point's deltas and hidden activations (`ws`, `b` columns) into columns `c0..c0 + b`
/// of the stacks.
///
/// SAFETY: no other thread touches those columns meanwhile, and the buffer outlives the call.
pub(super) unsafe fn store_point<T: Real>(
    buf: &Shared<T>,
    lay: &Layout<'_>,
    ws: &Workspace<T>,
    c0: usize,
    b: usize,
) {
    let (sizes, nl) = (lay.sizes, lay.layers());
    for l in 0..nl {
        let rows = sizes[l + 1];
        buf.range(lay.delta(l) + rows * c0, rows * b)
            .copy_from_slice(&ws.deltas[l][..rows * b]);
        if l + 1 < nl {
            buf.range(lay.act(l) + rows * c0, rows * b)
                .copy_from_slice(&ws.acts[l][..rows * b]);
        }
    }
}

/// Once for all points: ∇Wℓ = Σ_m δℓ,m·Aℓ,mᵀ as one product, ∇bℓ = Σ of δℓ's columns.
pub(super) fn weight_gradients<T: Real>(
    mlp: &super::Mlp,
    buf: &[T],
    lay: &Layout<'_>,
    grad: &mut DVector<T>,
) {
    let (sizes, nl, n) = (lay.sizes, lay.layers(), lay.n);
    {
        let (zero, one) = (T::zero(), T::one());
        let g = grad.as_mut_slice();
        for l in 0..nl {
            let (n_in, n_out) = (sizes[l], sizes[l + 1]);
            let delta = &buf[lay.delta(l)..lay.delta(l) + n_out * n];
            let a_prev = if l == 0 {
                &buf[lay.input()..lay.input() + n_in * n]
            } else {
                &buf[lay.act(l - 1)..lay.act(l - 1) + n_in * n]
            };
            let w_off = mlp.w_offset(l);
            let (gw, gb) = g[w_off..w_off + (n_in + 1) * n_out].split_at_mut(n_in * n_out);
            let dm = Mat::new(delta, n_out, n);
            gemm(
                one,
                dm,
                Mat::new(a_prev, n_in, n).t(),
                zero,
                gw,
                Parallelism::Unknown,
            );
            gb.fill(zero);
            bias_gradient(gb, delta);
        }
    }
}
