//! The MLP's Gaussian mean gradient with the first layer's noise drawn through its product with
//! the minibatch ([`MeanGradient::gaussian_mean_gradient`]): Robbins–Monro's Monte Carlo mean of
//! ∇f over φ_{x,τ} (000 Alg. 5, eq. 17) under
//! [`GaussianExpectation::ProjectedMonteCarlo`](crate::kl::GaussianExpectation).
//!
//! Why the law is the same. At z = x + s·ξ the network sees W₀'s perturbation Ξ₀ (n₁ × n₀) only
//! through Ξ₀·X, X the minibatch's inputs (n₀ × B): the forward pass forms (W₀ + sΞ₀)·X, the
//! backward pass never reads W₀ (no delta of the inputs is formed), and ∇W₀ = δ₀·Xᵀ. The rows of
//! Ξ₀ are independent N(0, I), so the rows of Ξ₀·X are independent N(0, XᵀX), and independent of
//! the rest of ξ. With XᵀX = L·Lᵀ, the rows of Ζ·Lᵀ (Ζ an n₁ × B standard normal matrix) have the
//! same law. So (f(z), ∇f(z)) computed with Ζ·Lᵀ in place of Ξ₀·X has the same joint law, and
//! the mean over M independent points has the law of eq. 17's Monte Carlo mean. Per point that
//! is n₁·B variates instead of n₁·n₀ (784 → 200 → 10 at minibatch 20: 6 010 in all instead of
//! 159 010), and W₀·X is one product over the M minibatches side by side instead of M products
//! with M perturbed copies of W₀: the same FLOPs, without the 1.4·10⁸ variates of an update.
//!
//! L is the Cholesky factor of XᵀX (B × B, in f64). A pivot at or below n₀·ε of its diagonal
//! entry (an input that is, to the Gram matrix's rounding, a combination of earlier ones, e.g. a
//! repeated or blank image) gets a zero column, which keeps L·Lᵀ = XᵀX for a positive
//! semi-definite XᵀX. Minibatches of n₀ or more examples are not projected (Ζ·Lᵀ would cost more
//! than Ξ₀·X): `gaussian_mean_gradient` returns `None` and the caller draws whole points.

use super::chunk::Backward;
use super::linalg::{gemm, Mat};
use super::mean_gradient::{store_point, PointScratch, Shared, Stacks};
use super::objective::MlpObjective;
use super::pass;
use super::workspace::{give, take, Dropout};
use crate::objective::Parallelism;
use crate::objective::{Batch, NoiseStream};
use crate::{kernels, Real};
use nalgebra::DVector;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

impl<T: Real> MlpObjective<T> {
    /// See the module docs; `batches` are index batches of fewer than n₀ examples (checked by
    /// the caller), `x` and `grad` of the right length. `None` if an index is out of range.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn projected(
        &self,
        st: &mut Stacks<T>,
        x: &[T],
        s: T,
        batches: &[Batch],
        streams: NoiseStream,
        grad: &mut DVector<T>,
    ) -> Option<T> {
        let sizes = self.mlp.sizes();
        let (n0, n1, d) = (sizes[0], sizes[1], self.mlp.num_params());
        let m_count = batches.len();
        let lay = st.lay_out(sizes, batches);
        let n = lay.n;
        let inv_m = 1.0 / m_count as f64;
        let offsets = &st.offsets;
        // W₀·X lands in the columns of layer 0's activations (or deltas, for a network without
        // hidden layers); each point reads its own columns before it overwrites them.
        let z0_at = if self.mlp.layers() > 1 {
            lay.act(0)
        } else {
            lay.delta(0)
        };

        // The M minibatches' inputs side by side.
        let failed = AtomicBool::new(false);
        let buf = Shared::new(&mut st.buf);
        (0..m_count).into_par_iter().for_each(|m| {
            let idx = batches[m].indices().unwrap_or(&[]);
            // SAFETY: point m writes only its own input columns; `st` outlives the loop.
            let cols = unsafe { buf.range(lay.input() + n0 * offsets[m], n0 * idx.len()) };
            if !self.data.gather_into(idx, cols) {
                failed.store(true, Ordering::Relaxed);
            }
        });
        if failed.load(Ordering::Relaxed) {
            return None;
        }
        // W₀·X, one product for all points (the unperturbed part of every point's Z₀).
        {
            let (one, zero) = (T::one(), T::zero());
            let (input, rest) = st.buf.split_at_mut(lay.input() + n0 * n);
            let at = z0_at - input.len();
            let w0 = Mat::new(&x[..n1 * n0], n1, n0);
            gemm(
                one,
                w0,
                Mat::new(input, n0, n),
                zero,
                &mut rest[at..at + n1 * n],
                Parallelism::Unknown,
            );
        }

        // Per point: its noise, Z₀ = W₀·X + s·Ζ·Lᵀ, the rest of the forward pass with x + s·ξ
        // after W₀, and the deltas, into the point's columns.
        let (buf, losses) = (Shared::new(&mut st.buf), Shared::new(&mut st.losses));
        (0..m_count).into_par_iter().for_each(|m| {
            let idx = batches[m].indices().unwrap_or(&[]);
            let (b, c0) = (idx.len(), offsets[m]);
            let mut p = take(&self.points, || PointScratch::new(&self.mlp));
            let PointScratch {
                z,
                ws,
                noise,
                gram,
                chol,
                lt,
            } = &mut p;
            noise.resize(n1 * b + d - n0 * n1, T::zero());
            let mut rng = streams.after(m as u64).block(0);
            T::fill_standard_normal(&mut rng, noise);
            let (zeta, xi) = noise.split_at(n1 * b);
            kernels::gaussian_sample(&mut z.as_mut_slice()[n0 * n1..], &x[n0 * n1..], xi, s);
            // SAFETY: this point's input columns (written above, only read from now on) and its
            // own W₀·X columns, read here before `store_point` overwrites them.
            let (xm, p0) = unsafe {
                (
                    &*buf.range(lay.input() + n0 * c0, n0 * b),
                    &*buf.range(z0_at + n1 * c0, n1 * b),
                )
            };
            gram.resize(b * b, T::zero());
            let xmat = Mat::new(xm, n0, b);
            gemm(
                T::one(),
                xmat.t(),
                xmat,
                T::zero(),
                gram,
                Parallelism::Unknown,
            );
            let rel = n0 as f64 * T::default_epsilon().as_f64();
            chol.resize(b * b, 0.0);
            lt.resize(b * b, T::zero());
            cholesky_upper(gram, b, rel, chol, lt);
            let first = |z0: &mut [T]| {
                z0.copy_from_slice(p0);
                gemm(
                    s,
                    Mat::new(zeta, n1, b),
                    Mat::new(lt, b, b),
                    T::one(),
                    z0,
                    Parallelism::Unknown,
                );
            };
            let mut drng = self.dropout_rng(idx);
            let mut dropout = drng.as_mut().map(|r| Dropout::new(r, self.mlp.dropout()));
            let scale = T::lit(inv_m / b as f64);
            let (mlp, data) = (&self.mlp, &self.data);
            let bw = Backward::Deltas { scale };
            match pass::pass_from_first(
                mlp,
                ws,
                z.as_slice(),
                data,
                idx,
                dropout.as_mut(),
                bw,
                first,
            ) {
                None => failed.store(true, Ordering::Relaxed),
                // SAFETY: point m writes only its own columns and its own loss.
                Some(loss) => unsafe {
                    store_point(&buf, &lay, ws, c0, b);
                    losses.range(m, 1)[0] = loss / b as f64;
                },
            }
            give(&self.points, p);
        });
        (!failed.into_inner()).then(|| self.finish(st, &lay, grad))
    }
}

/// Lᵀ of G = L·Lᵀ (`g` the b × b Gram matrix, column-major) into `lt`, computed in f64 in `chol`
/// (`chol[i + b·j]` = L_ij, i ≥ j). A pivot at or below `rel`·G_jj gives a zero column of L (see
/// the module docs); returns whether no pivot did (L invertible).
pub(super) fn cholesky_upper<T: Real>(
    g: &[T],
    b: usize,
    rel: f64,
    chol: &mut [f64],
    lt: &mut [T],
) -> bool {
    let (chol, lt) = (&mut chol[..b * b], &mut lt[..b * b]);
    chol.fill(0.0);
    let mut full = true;
    for j in 0..b {
        let gjj = g[j + b * j].as_f64();
        let mut pivot = gjj;
        for k in 0..j {
            pivot -= chol[j + b * k] * chol[j + b * k];
        }
        // A NaN pivot (NaN inputs) also leaves the column zero; the NaN reaches the loss anyway.
        if pivot.partial_cmp(&(rel * gjj)) != Some(std::cmp::Ordering::Greater) {
            full = false;
            continue; // column j of L stays zero
        }
        let ljj = pivot.sqrt();
        chol[j + b * j] = ljj;
        for i in j + 1..b {
            let mut v = g[i + b * j].as_f64();
            for k in 0..j {
                v -= chol[i + b * k] * chol[j + b * k];
            }
            chol[i + b * j] = v / ljj;
        }
    }
    // lt[r + b·c] = Lᵀ_rc = L_cr.
    for (e, v) in lt.iter_mut().enumerate() {
        *v = T::lit(chol[e / b + b * (e % b)]);
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_the_gram_matrix_also_when_it_is_singular() {
        // Four inputs of length 5; the third is the sum of the first two, the fourth is blank.
        let x: [f64; 20] = [
            1.0, 2.0, 0.5, 0.0, 3.0, //
            0.0, 1.0, 4.0, 2.0, 1.0, //
            1.0, 3.0, 4.5, 2.0, 4.0, //
            0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        let (n, b) = (5, 4);
        let mut g = vec![0.0; b * b];
        for i in 0..b {
            for j in 0..b {
                g[i + b * j] = (0..n).map(|k| x[k + n * i] * x[k + n * j]).sum();
            }
        }
        let (mut chol, mut lt) = (vec![0.0; b * b], vec![0.0; b * b]);
        assert!(!cholesky_upper(&g, b, n as f64 * 1e-16, &mut chol, &mut lt));
        for i in 0..b {
            for j in 0..b {
                // (Lᵀ)ᵀ·Lᵀ = L·Lᵀ.
                let v: f64 = (0..b).map(|k| lt[k + b * i] * lt[k + b * j]).sum();
                assert!((v - g[i + b * j]).abs() < 1e-12 * (1.0 + g[i + b * j].abs()));
            }
        }
        // Lᵀ is upper triangular, with zero rows for the dependent and the blank input.
        for r in 0..b {
            for c in 0..r {
                assert_eq!(lt[r + b * c], 0.0);
            }
        }
        assert!((0..b).all(|c| lt[2 + b * c] == 0.0 && lt[3 + b * c] == 0.0));
        assert!(lt[0] > 0.0 && lt[1 + b] > 0.0);
        // The first two alone are independent: an invertible factor.
        let g2 = [g[0], g[1], g[b], g[1 + b]];
        assert!(cholesky_upper(&g2, 2, 1e-12, &mut chol, &mut lt));
    }
}
