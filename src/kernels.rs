//! The vectorized inner loops shared by the samplers and optimizers (issue 6): one pass over the
//! d parameters each, on plain slices (no bounds checks, no nalgebra iterators), compiled for AVX2
//! and AVX-512 as well and chosen at run time by [`multiversion`]. Every version performs the same
//! IEEE operations in the same order (Rust never fuses a·b + c on its own), so results do not
//! depend on the CPU.

use crate::Real;
use multiversion::multiversion;

/// Elements per block of parameters when noise is drawn in parallel: each block has its own
/// random stream, so the result does not depend on how many threads share the blocks.
pub(crate) const NOISE_BLOCK: usize = 16_384;

/// Scratch noise drawn per pass inside a block (stack buffer, no allocation).
pub(crate) const NOISE_CHUNK: usize = 512;

/// True when every entry is finite; scans in chunks of 1024 without early exit inside a chunk so
/// the comparison vectorizes (the old `iter().all` stopped the vectorizer).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn all_finite<T: Real>(v: &[T]) -> bool {
    v.chunks(1024)
        .all(|c| c.iter().fold(true, |ok, e| ok & e.is_finite()))
}

/// One Langevin step on a block (000 Alg. 3): y ← y − drift·(g − (x − y)/τ) + sd·ξ, written as
/// y − drift·(g − (x − y)·inv_tau) + sd·ξ as before (same rounding as the scalar version).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn langevin<T: Real>(
    y: &mut [T],
    g: &[T],
    x: &[T],
    noise: &[T],
    drift: T,
    inv_tau: T,
    sd: T,
) {
    for (((yi, &gi), &xi), &ni) in y.iter_mut().zip(g).zip(x).zip(noise) {
        let v = *yi;
        *yi = v - drift * (gi - (xi - v) * inv_tau) + sd * ni;
    }
}

/// acc ← acc + a·y (the running weighted average of iterates or samples).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn axpy<T: Real>(acc: &mut [T], a: T, y: &[T]) {
    for (s, &v) in acc.iter_mut().zip(y) {
        *s += a * v;
    }
}

/// y ← x + s·ξ, overwriting the noise ξ held in `y` (a Gaussian sample around x).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn shift_scaled<T: Real>(y: &mut [T], x: &[T], s: T) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = xi + s * *yi;
    }
}

/// acc ← acc + w·y in `f64` (importance sampling's weighted sums, 000 eq. 16).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn axpy_f64<T: Real>(acc: &mut [f64], w: f64, y: &[T]) {
    for (s, &v) in acc.iter_mut().zip(y) {
        *s += w * v.as_f64();
    }
}

/// v ← c·v in `f64`.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn scale_f64(v: &mut [f64], c: f64) {
    for s in v.iter_mut() {
        *s *= c;
    }
}

/// z ← x + y.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn add_into<T: Real>(z: &mut [T], x: &[T], y: &[T]) {
    for ((zi, &xi), &yi) in z.iter_mut().zip(x).zip(y) {
        *zi = xi + yi;
    }
}

/// One pass over the parameters with fresh Gaussian noise, in parallel over fixed blocks.
///
/// The parameters are cut into blocks of [`NOISE_BLOCK`]; block b of pass `step` draws its noise
/// from `rng::stream(key, step·2²⁴ + b)`, in chunks of [`NOISE_CHUNK`] variates, and calls
/// `f(offset, y_chunk, z_chunk, noise_chunk)` with the matching pieces of `y` and of `z` (`z` has
/// y's length, or is empty and then every `z_chunk` is empty). Blocks run on rayon when there are
/// several; because each block's noise and work depend only on (key, step, b), the result is
/// bit-identical for any number of threads. With `noisy == false` no variate is drawn and the noise
/// chunks are zeros.
pub(crate) fn noisy_pass<T, F>(key: u64, step: u64, noisy: bool, y: &mut [T], z: &mut [T], f: F)
where
    T: Real,
    F: Fn(usize, &mut [T], &mut [T], &[T]) + Sync,
{
    use rayon::prelude::*;
    debug_assert!(z.is_empty() || z.len() == y.len());
    let block = |b: usize, yb: &mut [T], zb: &mut [T]| {
        let mut r = crate::rng::stream(key, (step << 24) | b as u64);
        let mut noise = [T::zero(); NOISE_CHUNK];
        for (c, yc) in yb.chunks_mut(NOISE_CHUNK).enumerate() {
            let n = yc.len();
            if noisy {
                T::fill_standard_normal(&mut r, &mut noise[..n]);
            }
            let zc: &mut [T] = if zb.is_empty() {
                &mut []
            } else {
                &mut zb[c * NOISE_CHUNK..c * NOISE_CHUNK + n]
            };
            f(b * NOISE_BLOCK + c * NOISE_CHUNK, yc, zc, &noise[..n]);
        }
    };
    if y.len() <= NOISE_BLOCK {
        block(0, y, z);
    } else if z.is_empty() {
        y.par_chunks_mut(NOISE_BLOCK)
            .enumerate()
            .for_each(|(b, yb)| block(b, yb, &mut []));
    } else {
        y.par_chunks_mut(NOISE_BLOCK)
            .zip(z.par_chunks_mut(NOISE_BLOCK))
            .enumerate()
            .for_each(|(b, (yb, zb))| block(b, yb, zb));
    }
}

/// z ← x + s·ξ (a Gaussian sample around x with standard deviation s).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn gaussian_sample<T: Real>(z: &mut [T], x: &[T], noise: &[T], s: T) {
    for ((zi, &xi), &ni) in z.iter_mut().zip(x).zip(noise) {
        *zi = xi + s * ni;
    }
}

/// Entropy-SGD's inner Langevin step on the displacement d = y − x and its running average μ
/// (004 Alg. 1, 003 eq. 4.40): d ← d − η(g + d/γ) [+ σ·ξ], μ ← (1 − a)·μ + a·d.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn displacement_langevin<T: Real>(
    d: &mut [T],
    mu: &mut [T],
    g: &[T],
    noise: &[T],
    eta: T,
    inv_gamma: T,
    sigma: T,
    a: T,
    noisy: bool,
) {
    let one_minus_a = T::one() - a;
    for (((di, mi), &gi), &ni) in d.iter_mut().zip(mu.iter_mut()).zip(g).zip(noise) {
        let mut v = *di - eta * (gi + *di * inv_gamma);
        if noisy {
            v += sigma * ni;
        }
        *di = v;
        *mi = one_minus_a * *mi + a * v;
    }
}

/// Euclidean norm |v|, summed in 16 interleaved partial sums (a vectorizable order; the plain
/// left-to-right sum runs at one addition per add-latency). Overflows to ∞ like the plain sum.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn norm<T: Real>(v: &[T]) -> T {
    const LANES: usize = 16;
    let mut acc = [T::zero(); LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &e) in acc.iter_mut().zip(c) {
            *a += e * e;
        }
    }
    for (a, &e) in acc.iter_mut().zip(rest) {
        *a += e * e;
    }
    acc.iter().fold(T::zero(), |s, &a| s + a).sqrt()
}
