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

/// C = α·A·B + β·C with C contiguous column-major (`a.rows × b.cols`). If β = 0, C is not read.
///
/// Panics if the shapes disagree or an operand does not fit its slice (internal invariant: every
/// caller sizes its buffers from the same [`Mlp`](super::Mlp)).
pub(crate) fn gemm<T: Real>(alpha: T, a: Mat<'_, T>, b: Mat<'_, T>, beta: T, c: &mut [T]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && c.len() >= m * n && a.fits() && b.fits());
    if m == 0 || n == 0 {
        return;
    }
    let id = TypeId::of::<T>();
    // SAFETY: T is exactly f32 (resp. f64) in each branch, so the pointer casts are identities;
    // `fits` and the length check above keep every access of matrixmultiply inside the slices.
    unsafe {
        if id == TypeId::of::<f32>() {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                *(&alpha as *const T as *const f32),
                a.data.as_ptr() as *const f32,
                a.rs as isize,
                a.cs as isize,
                b.data.as_ptr() as *const f32,
                b.rs as isize,
                b.cs as isize,
                *(&beta as *const T as *const f32),
                c.as_mut_ptr() as *mut f32,
                1,
                m as isize,
            );
            return;
        }
        if id == TypeId::of::<f64>() {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                *(&alpha as *const T as *const f64),
                a.data.as_ptr() as *const f64,
                a.rs as isize,
                a.cs as isize,
                b.data.as_ptr() as *const f64,
                b.rs as isize,
                b.cs as isize,
                *(&beta as *const T as *const f64),
                c.as_mut_ptr() as *mut f64,
                1,
                m as isize,
            );
            return;
        }
    }
    // Any other Real (none in the crate today): a plain triple loop.
    for j in 0..n {
        for i in 0..m {
            let mut s = T::zero();
            for p in 0..k {
                s += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
            }
            let old = if beta == T::zero() {
                T::zero()
            } else {
                beta * c[i + j * m]
            };
            c[i + j * m] = alpha * s + old;
        }
    }
}
