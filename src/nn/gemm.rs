//! One general matrix product for the MLP's forward and backward passes, on strided slices.
//!
//! `f32`/`f64` go to `matrixmultiply` (packed, vectorized kernels; AVX-512 where available),
//! which takes arbitrary row/column strides, so a transposed operand is just swapped strides.
//! nalgebra's own `gemm` is not used: for any dimension ≤ 5 it falls back to per-column `axcpy`,
//! which with strided (transposed) views writes out of bounds (nalgebra 0.33.3 `axcpy_uninit`
//! loops over the *slice* length, not the element count).

use crate::Real;
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

/// Products of fewer than twice this many FLOPs are not split between threads (≈ 25 µs per half:
/// rayon's fork costs a few µs, and each piece loses some kernel efficiency).
const PAR_MIN_FLOPS: usize = 1_500_000;

/// Whether this call may split its products: only from outside rayon's workers (a single
/// gradient for SGD or Entropy-SGD's inner loop), with at least two threads. Calls already made
/// in parallel (importance samples, Parle replicas) keep every core busy without it, and a split
/// costs ~10% kernel efficiency per piece (measured, matrixmultiply AVX2 sgemm, 784×200 shapes).
fn may_split() -> bool {
    rayon::current_thread_index().is_none() && rayon::current_num_threads() >= 2
}

/// C = α·A·B + β·C with C contiguous column-major (`a.rows × b.cols`). If β = 0, C is not read.
///
/// Large products may be split in two along the larger of C's dimensions (rows = output units,
/// or columns = examples), the halves running under `rayon::join` (see `may_split`). Each
/// element of C is still one dot product accumulated in the same order (matrixmultiply blocks
/// only the inner dimension), so the result is bit-identical with or without the split — checked
/// by `tests/nn_mlp.rs` — and does not depend on the thread count.
///
/// Panics if the shapes disagree or an operand does not fit its slice (internal invariant: every
/// caller sizes its buffers from the same [`Mlp`](super::Mlp)).
pub(crate) fn gemm<T: Real>(alpha: T, a: Mat<'_, T>, b: Mat<'_, T>, beta: T, c: &mut [T]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && c.len() >= m * n && a.fits() && b.fits());
    if m == 0 || n == 0 {
        return;
    }
    let op = Raw {
        m,
        k,
        n,
        alpha,
        beta,
        a: a.data.as_ptr(),
        rsa: a.rs,
        csa: a.cs,
        b: b.data.as_ptr(),
        rsb: b.rs,
        csb: b.cs,
        c: c.as_mut_ptr(),
        csc: m,
    };
    // SAFETY: the checks above keep every access inside `a`, `b` and `c`; `c` is borrowed
    // mutably for the whole call, and `split` hands disjoint parts of it to the pieces.
    let split = may_split() && 2 * m * k * n >= 2 * PAR_MIN_FLOPS && (m >= 16 || n >= 16);
    unsafe { op.split(split) }
}

/// A product on raw pointers (C with unit row stride and column stride `csc`).
#[derive(Clone, Copy)]
struct Raw<T> {
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    beta: T,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    csb: usize,
    c: *mut T,
    csc: usize,
}

// SAFETY: the pointers are only dereferenced inside `gemm`'s borrow of the slices, and the
// pieces handed to different threads write disjoint parts of C.
unsafe impl<T: Send> Send for Raw<T> {}
unsafe impl<T: Sync> Sync for Raw<T> {}

impl<T: Real> Raw<T> {
    unsafe fn split(self, split: bool) {
        if !split {
            return self.run();
        }
        let (x, y) = if self.m >= self.n {
            // Rows of C: the first h rows of A and of C.
            let h = self.m / 2;
            let top = Raw { m: h, ..self };
            let bottom = Raw {
                m: self.m - h,
                a: self.a.add(h * self.rsa),
                c: self.c.add(h),
                ..self
            };
            (top, bottom)
        } else {
            // Columns of C: the first h columns of B and of C.
            let h = self.n / 2;
            let left = Raw { n: h, ..self };
            let right = Raw {
                n: self.n - h,
                b: self.b.add(h * self.csb),
                c: self.c.add(h * self.csc),
                ..self
            };
            (left, right)
        };
        rayon::join(move || unsafe { x.run() }, move || unsafe { y.run() });
    }

    unsafe fn run(self) {
        let id = TypeId::of::<T>();
        if id == TypeId::of::<f32>() {
            matrixmultiply::sgemm(
                self.m,
                self.k,
                self.n,
                *(&self.alpha as *const T as *const f32),
                self.a as *const f32,
                self.rsa as isize,
                self.csa as isize,
                self.b as *const f32,
                self.rsb as isize,
                self.csb as isize,
                *(&self.beta as *const T as *const f32),
                self.c as *mut f32,
                1,
                self.csc as isize,
            );
        } else if id == TypeId::of::<f64>() {
            matrixmultiply::dgemm(
                self.m,
                self.k,
                self.n,
                *(&self.alpha as *const T as *const f64),
                self.a as *const f64,
                self.rsa as isize,
                self.csa as isize,
                self.b as *const f64,
                self.rsb as isize,
                self.csb as isize,
                *(&self.beta as *const T as *const f64),
                self.c as *mut f64,
                1,
                self.csc as isize,
            );
        } else {
            // Any other Real (none in the crate today): a plain triple loop.
            for j in 0..self.n {
                for i in 0..self.m {
                    let mut s = T::zero();
                    for p in 0..self.k {
                        s += *self.a.add(i * self.rsa + p * self.csa)
                            * *self.b.add(p * self.rsb + j * self.csb);
                    }
                    let cij = self.c.add(i + j * self.csc);
                    let old = if self.beta == T::zero() {
                        T::zero()
                    } else {
                        self.beta * *cij
                    };
                    *cij = self.alpha * s + old;
                }
            }
        }
    }
}
