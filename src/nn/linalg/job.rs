//! One product on raw pointers ([`Job`]), handed to the `gemm` crate: on one thread (x86)
//! through the allocation-free packed driver, threaded by a split over C ([`Job::split`]) or by
//! `gemm`'s own parallelism.

use super::isa::{isa, Isa};
use super::split::split_is_exact;
use super::Mat;
use gemm::Parallelism;

/// One product on raw pointers: C (unit row stride, column stride `csc`) = α·A·B + β·C.
#[derive(Clone, Copy)]
pub(super) struct Job<U> {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) alpha: U,
    pub(super) beta: U,
    pub(super) a: *const U,
    pub(super) rsa: usize,
    pub(super) csa: usize,
    pub(super) b: *const U,
    pub(super) rsb: usize,
    pub(super) csb: usize,
    pub(super) c: *mut U,
    pub(super) csc: usize,
    /// The rows and columns of the whole product: a half of a split one keeps them, and the
    /// packed driver gives it the whole's depth blocks (same sums, same bits).
    pub(super) whole: (usize, usize),
    /// The kernels of the one-thread products (`isa()`; the tests set others).
    pub(super) isa: Option<Isa>,
}

// SAFETY: the pointers are only dereferenced inside `gemm`'s borrow of the slices, and the
// halves handed to different threads write disjoint parts of C.
unsafe impl<U: Send> Send for Job<U> {}
unsafe impl<U: Sync> Sync for Job<U> {}

impl<U> Job<U>
where
    U: Copy + PartialEq + Default + Send + Sync + 'static,
{
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new<T>(
        m: usize,
        k: usize,
        n: usize,
        alpha: U,
        a: &Mat<'_, T>,
        b: &Mat<'_, T>,
        beta: U,
        c: *mut U,
    ) -> Self {
        Self {
            m,
            k,
            n,
            alpha,
            beta,
            a: a.data.as_ptr().cast(),
            rsa: a.rs,
            csa: a.cs,
            b: b.data.as_ptr().cast(),
            rsb: b.rs,
            csb: b.cs,
            c,
            csc: m,
            whole: (m, n),
            isa: isa(),
        }
    }

    pub(super) unsafe fn go(self, threaded: bool) {
        if !threaded {
            self.run()
        } else if split_is_exact(self.isa, self.m, self.k, self.n) {
            self.split()
        } else {
            self.run_gemm(Parallelism::Rayon(0))
        }
    }

    /// One thread.
    pub(super) unsafe fn run(self) {
        self.run_gemm(Parallelism::None)
    }

    /// The `gemm` crate's call: dst := a·dst + b·lhs·rhs, strides given as (column, row). On
    /// one thread (x86), through `packed::gemm`: the same computation without allocating.
    unsafe fn run_gemm(self, par: Parallelism) {
        let read_c = self.beta != U::default();
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if matches!(par, Parallelism::None) {
            return super::packed::gemm(
                self.isa, self.m, self.n, self.k, self.whole, self.c, self.csc, read_c, self.a,
                self.csa, self.rsa, self.b, self.csb, self.rsb, self.beta, self.alpha,
            );
        }
        gemm::gemm(
            self.m,
            self.n,
            self.k,
            self.c,
            self.csc as isize,
            1,
            read_c,
            self.a,
            self.csa as isize,
            self.rsa as isize,
            self.b,
            self.csb as isize,
            self.rsb as isize,
            self.beta,
            self.alpha,
            false,
            false,
            false,
            par,
        );
    }
}
