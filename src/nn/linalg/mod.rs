//! The MLP's one general matrix product, C = α·A·B + β·C on strided column-major slices
//! ([`gemm()`]), used by the forward and backward passes.
//!
//! `f32`/`f64` go to the `gemm` crate (the kernels behind `faer`): it picks AVX2+FMA or AVX-512
//! microkernels at run time although the crate is compiled for generic x86-64, reads a
//! column-major operand in place where that is cheaper than packing it (the MLP's weight matrix
//! at small minibatches), and has dedicated paths for thin products (10 output units, or a
//! propagated delta with k = 10). A transposed operand is swapped strides, never a copy.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Mat`] and the entry point [`gemm()`]: type dispatch |
//! | `job` | one product on raw pointers, run on one thread or split |
//! | `split` | when a product is threaded, and when splitting C in two is bit-identical |
//! | `isa` | which of `gemm`'s kernel sets this CPU runs |
//! | `packed` | `gemm`'s packed path for one thread, copied from gemm-common 0.19.0: no allocation |
//! | `pool` | the per-thread packing buffers of `packed` |
//! | `fallback` | a triple loop for other types and for CPUs where `gemm` cannot run |
//!
//! Every element of C is one dot product accumulated in the same order with or without threads,
//! so the result is bit-identical and independent of the thread count; after a warm-up, a product
//! allocates nothing on a CPU with AVX2+FMA or AVX-512.
//!
//! nalgebra's own `gemm` is not used: for any dimension ≤ 5 it falls back to per-column `axcpy`,
//! which with strided (transposed) views writes out of bounds (nalgebra 0.33.3 `axcpy_uninit`
//! loops over the *slice* length, not the element count).

mod fallback;
mod isa;
mod job;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod packed;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod pool;
mod split;
#[cfg(test)]
mod tests;
#[cfg(all(test, any(target_arch = "x86", target_arch = "x86_64")))]
mod tests_packed;

use crate::objective::Parallelism;
use crate::Real;
use fallback::{gemm_crate_runs, naive};
use job::Job;
use split::may_split;
use std::any::TypeId;

/// A column-major operand: `rows × cols` at `data` with strides (`rs`, `cs`).
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> Mat<'a, T> {
    /// A contiguous column-major `rows × cols` matrix.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: 1,
            cs: rows,
        }
    }

    /// The transpose, as a view (swapped strides, no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// True if every element lies inside `data` (the check that makes the raw call sound).
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// C = α·A·B + β·C with C contiguous column-major (`a.rows × b.cols`). If β = 0, C is not read.
///
/// Large products (see [`may_split`], which reads the caller's hint `par`: a
/// [`Parallelism`] passed down from the loss's caller) are threaded over rayon's pool, only ever
/// along the rows and columns of C: as two halves under one `rayon::join` where that is exact (see
/// `split::split_is_exact` — every MLP product qualifies), else through `gemm`'s own
/// parallelism, whose blocking depends on the shape alone. One fork rather than `gemm`'s own
/// threading, which forks twice (packing, then kernels): it is faster on the MLP's small-k ∇W
/// products (docs/performance.md). Either way every element of C is one dot product accumulated
/// in the same order with or without threads, so the result is bit-identical and independent of
/// the thread count (checked by this module's unit tests for every instruction set the machine
/// has, `tests/nn_threads.rs` and `tests/nn_mlp.rs`).
///
/// Panics if the shapes disagree or an operand does not fit its slice (internal invariant: every
/// caller sizes its buffers from the same [`Mlp`](super::Mlp)).
pub(crate) fn gemm<T: Real>(
    alpha: T,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    beta: T,
    c: &mut [T],
    par: Parallelism,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && c.len() >= m * n && a.fits() && b.fits());
    if m == 0 || n == 0 {
        return;
    }
    let threaded = may_split(par).is_some_and(|min| 2 * m * k * n >= min);
    // SAFETY: the checks above keep every access inside `a`, `b` and `c` (C is m × n with
    // column stride m inside `c`); `c` is borrowed mutably for the whole call, and `split`
    // hands disjoint parts of it to the two halves.
    unsafe {
        let id = TypeId::of::<T>();
        if id == TypeId::of::<f32>() && gemm_crate_runs() {
            Job::<f32>::new(
                m,
                k,
                n,
                cast(alpha),
                &a,
                &b,
                cast(beta),
                c.as_mut_ptr().cast(),
            )
            .go(threaded);
        } else if id == TypeId::of::<f64>() && gemm_crate_runs() {
            Job::<f64>::new(
                m,
                k,
                n,
                cast(alpha),
                &a,
                &b,
                cast(beta),
                c.as_mut_ptr().cast(),
            )
            .go(threaded);
        } else {
            naive(alpha, a, b, beta, c);
        }
    }
}

/// `x` reinterpreted as `U`. Caller: `T` and `U` are the same type (checked by `TypeId`).
unsafe fn cast<T: Copy, U: Copy>(x: T) -> U {
    *(&x as *const T as *const U)
}
