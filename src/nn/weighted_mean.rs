//! Importance sampling's weighted mean on the MLP with the first layer's noise drawn through its
//! product with the minibatch ([`GaussianWeightedMean`]; 000 Alg. 4, eq. 16, under
//! [`ImportanceSampling::projected`](crate::sampling::ImportanceSampling::projected)).
//!
//! Why the law is the same. Sample j is y_j = x + s·ξ_j, and its weight w_j = e^{−f(y_j)} on the
//! one minibatch X (n₀ × B) depends on W₀'s noise Ξ₀,j only through S_j = Ξ₀,j·X (see
//! `projected.rs`): S_j is drawn in law as Ζ_j·Lᵀ, XᵀX = L·Lᵀ. The estimate needs the whole
//! weighted sum Σ_j w_j Ξ₀,j, though. Row by row, Ξ₀,j = S_j·(XᵀX)⁻¹Xᵀ + R_j, where R_j (the part
//! off X's columns) is independent of S_j and of everything else of sample j, with rows
//! N(0, P⊥), P⊥ = I − X(XᵀX)⁻¹Xᵀ. Given all the weights, Σ_j w_j R_j therefore has independent
//! rows N(0, (Σ_j w_j²)·P⊥): one standard normal n₁ × n₀ matrix G gives it as √(Σ_j w_j²)·G·P⊥.
//! With S_j = Ζ_j·Lᵀ, S_j·(XᵀX)⁻¹Xᵀ = Ζ_j·K where K = L⁻¹Xᵀ, so
//!
//! Σ_j w_j Ξ₀,j / Σ_j w_j  =_law  Z̄·K + q·(G − G·X·L⁻ᵀ·K),  Z̄ = Σ_j w_j Ζ_j / Σ_j w_j,
//! q = √(Σ_j w_j²) / Σ_j w_j,
//!
//! and every other parameter's noise is drawn whole. Per sample that is n₁·B + (d − n₀·n₁)
//! variates (784 → 200 → 10 at minibatch 20: 6 010 instead of 159 010) and no n₁ × n₀ product
//! at all; once per estimate, one n₁ × n₀ draw and products of that size.
//!
//! This needs XᵀX invertible, and well enough conditioned for L⁻¹ in floating point: every
//! Cholesky pivot must exceed 10⁻⁴ of its diagonal entry (an example with less than 0.01 % of its
//! squared norm outside the span of the others, e.g. a repeated image, fails). Otherwise, and for
//! minibatches of n₀ or more examples, the path returns `None` and importance sampling draws
//! whole samples.

use super::chunk::Backward;
use super::linalg::{gemm, Mat};
use super::mean_gradient::{PointScratch, Shared, Stacks};
use super::objective::MlpObjective;
use super::pass;
use super::projected::cholesky_upper;
use super::workspace::{give, take, Dropout};
use crate::objective::Parallelism;
use crate::objective::{Batch, GaussianWeightedMean, NoiseStream, WeightSums};
use crate::{kernels, Error, Real, Result};
use nalgebra::DVector;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Smallest Cholesky pivot of XᵀX, relative to its diagonal entry, for which L⁻¹ is used.
const MIN_PIVOT: f64 = 1e-4;

fn non_finite() -> Error {
    Error::NonFinite {
        what: "loss value",
        during: crate::error::site::IMPORTANCE_SAMPLING,
    }
}

/// Forward substitution in place: v ← L⁻¹v, L lower triangular (`l[i + b·j]` = L_ij) and
/// invertible.
fn solve_lower(l: &[f64], b: usize, v: &mut [f64]) {
    for i in 0..b {
        let mut t = v[i];
        for k in 0..i {
            t -= l[i + b * k] * v[k];
        }
        v[i] = t / l[i + b * i];
    }
}

impl<T: Real> GaussianWeightedMean<T> for MlpObjective<T> {
    fn gaussian_weighted_mean(
        &self,
        x: &DVector<T>,
        s: T,
        batch: &Batch,
        samples: usize,
        chunks: usize,
        noise: NoiseStream,
        mean: &mut DVector<T>,
    ) -> Option<Result<WeightSums>> {
        let idx = batch.indices()?;
        let (n0, d) = (self.mlp.sizes()[0], self.mlp.num_params());
        let b = idx.len();
        let fits = b > 0 && b < n0 && b <= self.chunk && x.len() == d && mean.len() == d;
        if !fits || samples == 0 || chunks == 0 || chunks > samples {
            return None;
        }
        let mut st = take(&self.stacks, Stacks::default);
        let r = self.weighted_mean(&mut st, x.as_slice(), s, idx, samples, chunks, noise, mean);
        give(&self.stacks, st);
        r
    }
}

impl<T: Real> MlpObjective<T> {
    /// See the module docs. `None`: XᵀX not invertible enough (whole samples instead).
    #[allow(clippy::too_many_arguments)]
    fn weighted_mean(
        &self,
        st: &mut Stacks<T>,
        x: &[T],
        s: T,
        idx: &[usize],
        samples: usize,
        chunks: usize,
        streams: NoiseStream,
        mean: &mut DVector<T>,
    ) -> Option<Result<WeightSums>> {
        let sizes = self.mlp.sizes();
        let (n0, n1, d, b) = (sizes[0], sizes[1], self.mlp.num_params(), idx.len());
        let w0 = n0 * n1;
        let (zero, one) = (T::zero(), T::one());
        // aux: X (n₀ × B) | W₀·X (n₁ × B) | XᵀX (B × B) | Lᵀ (B × B) | K = L⁻¹Xᵀ (B × n₀) |
        // G·X, then Z̄ − q·G·X·L⁻ᵀ (n₁ × B). aux64: L (B × B) | one vector of B.
        st.aux
            .resize(n0 * b + 2 * n1 * b + 2 * b * b + b * n0, zero);
        st.aux64.resize(b * b + b, 0.0);
        let (xs, rest) = st.aux.split_at_mut(n0 * b);
        let (p, rest) = rest.split_at_mut(n1 * b);
        let (gram, rest) = rest.split_at_mut(b * b);
        let (lt, rest) = rest.split_at_mut(b * b);
        let (kmat, mbuf) = rest.split_at_mut(b * n0);
        let (l, v) = st.aux64.split_at_mut(b * b);
        if !self.data.gather_into(idx, xs) {
            return Some(Err(non_finite()));
        }
        let xm = Mat::new(&*xs, n0, b);
        gemm(one, xm.t(), xm, zero, gram, Parallelism::Unknown);
        if !cholesky_upper(gram, b, MIN_PIVOT, l, lt) {
            return None;
        }
        gemm(
            one,
            Mat::new(&x[..w0], n1, n0),
            xm,
            zero,
            p,
            Parallelism::Unknown,
        );
        // K = L⁻¹Xᵀ: column k is L⁻¹ (row k of X)ᵀ.
        for k in 0..n0 {
            for (i, t) in v.iter_mut().enumerate() {
                *t = xs[k + n0 * i].as_f64();
            }
            solve_lower(l, b, v);
            for (c, &t) in kmat[b * k..b * (k + 1)].iter_mut().zip(v.iter()) {
                *c = T::lit(t);
            }
        }

        // The samples, in fixed chunks: each chunk's Σ_j w_j·(Ζ_j, noise after W₀) with the
        // weights relative to the chunk's running maximum, and its (m, Σw, Σw²).
        let unit = n1 * b + d - w0;
        st.buf.resize(chunks * unit, zero);
        st.losses.resize(3 * chunks, 0.0);
        let failed = AtomicBool::new(false);
        let (acc_all, sums) = (Shared::new(&mut st.buf), Shared::new(&mut st.losses));
        let (p, lt) = (&*p, &*lt);
        (0..chunks).into_par_iter().for_each(|c| {
            let mut ps = take(&self.points, || PointScratch::new(&self.mlp));
            let PointScratch { z, ws, noise, .. } = &mut ps;
            noise.resize(unit, zero);
            // SAFETY: chunk c writes only its own accumulator and sums; `st` outlives the loop.
            let (acc, sums) = unsafe { (acc_all.range(c * unit, unit), sums.range(3 * c, 3)) };
            acc.fill(zero);
            let mut ls = WeightSums::default();
            for j in c * samples / chunks..(c + 1) * samples / chunks {
                T::fill_standard_normal(&mut streams.sample(j), noise);
                let (zeta, xi) = noise.split_at(n1 * b);
                kernels::gaussian_sample(&mut z.as_mut_slice()[w0..], &x[w0..], xi, s);
                let first = |z0: &mut [T]| {
                    z0.copy_from_slice(p);
                    gemm(
                        s,
                        Mat::new(zeta, n1, b),
                        Mat::new(lt, b, b),
                        one,
                        z0,
                        Parallelism::Unknown,
                    );
                };
                let mut drng = self.dropout_rng(idx);
                let mut dropout = drng.as_mut().map(|r| Dropout::new(r, self.mlp.dropout()));
                let (mlp, data, zs) = (&self.mlp, &self.data, z.as_slice());
                let bw = Backward::None;
                let f = pass::pass_from_first(mlp, ws, zs, data, idx, dropout.as_mut(), bw, first)
                    .map_or(f64::NAN, |sum| sum / b as f64);
                if !f.is_finite() {
                    failed.store(true, Ordering::Relaxed);
                    break;
                }
                let (rescale, w) = ls.add(-f);
                if rescale != 1.0 {
                    kernels::scale(acc, T::lit(rescale));
                }
                kernels::axpy(acc, T::lit(w), noise);
            }
            sums.copy_from_slice(&[ls.max_log_weight, ls.sum, ls.sum_sq]);
            give(&self.points, ps);
        });
        if failed.into_inner() {
            return Some(Err(non_finite()));
        }

        // Merge the chunks in order (in f64): Z̄ into chunk 0's accumulator, the noise after W₀
        // straight into the mean.
        let m = st
            .losses
            .chunks_exact(3)
            .fold(f64::NEG_INFINITY, |a, c| a.max(c[0]));
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for c in st.losses.chunks_exact_mut(3) {
            let scale = (c[0] - m).exp();
            sum += c[1] * scale;
            sum_sq += c[2] * scale * scale;
            c[0] = scale;
        }
        let scales = &st.losses;
        let (acc0, others) = st.buf.split_at_mut(unit);
        let merged = |u: usize, first: T| {
            let mut t = first.as_f64() * scales[0];
            for c in 1..chunks {
                t += others[(c - 1) * unit + u].as_f64() * scales[3 * c];
            }
            t / sum
        };
        let means = mean.as_mut_slice();
        for u in (0..unit).rev() {
            let t = merged(u, acc0[u]);
            if u >= n1 * b {
                let i = w0 + u - n1 * b;
                means[i] = x[i] + s * T::lit(t);
            } else {
                acc0[u] = T::lit(t);
            }
        }
        let zbar = &acc0[..n1 * b];

        // W₀'s part: x₀ + s·((Z̄ − q·G·X·L⁻ᵀ)·K + q·G).
        let q = sum_sq.sqrt() / sum;
        let g = &mut means[..w0];
        streams.auxiliary().fill(g);
        gemm(
            one,
            Mat::new(&*g, n1, n0),
            xm,
            zero,
            mbuf,
            Parallelism::Unknown,
        );
        for r in 0..n1 {
            for (i, t) in v.iter_mut().enumerate() {
                *t = mbuf[r + n1 * i].as_f64();
            }
            solve_lower(l, b, v);
            for (i, &t) in v.iter().enumerate() {
                mbuf[r + n1 * i] = zbar[r + n1 * i] - T::lit(q * t);
            }
        }
        kernels::scale(g, T::lit(q));
        gemm(
            one,
            Mat::new(mbuf, n1, b),
            Mat::new(kmat, b, n0),
            one,
            g,
            Parallelism::Unknown,
        );
        for (gi, &xi) in g.iter_mut().zip(&x[..w0]) {
            *gi = xi + s * *gi;
        }
        Some(Ok(WeightSums {
            max_log_weight: m,
            sum,
            sum_sq,
        }))
    }
}
