//! One general matrix product for the MLP's forward and backward passes, on strided slices.
//!
//! `f32`/`f64` go to the `gemm` crate (the kernels behind `faer`): it picks its AVX2+FMA (or
//! AVX-512) microkernels at run time even though the crate is compiled for generic x86-64, reads a
//! column-major operand in place instead of packing it when that is cheaper (the MLP's weight
//! matrix at small minibatches), and has dedicated paths for the thin products (10 output units,
//! or a propagated delta with k = 10). A transposed operand is just swapped strides.
//!
//! On a CPU with AVX-512 (F, BW, CD, DQ, VL) the same path runs `gemm`'s AVX-512 microkernels
//! (16 f32 lanes, 64 × 6 tiles), which `gemm` 0.19 builds on stable Rust with its `x86-v4`
//! feature (0.18 built them only on nightly, so the products went to `matrixmultiply` there). That
//! path is unmeasured here: this machine (Zen 3) has AVX2+FMA only. See [`Isa`].
//!
//! Measured against `matrixmultiply` 0.3 (the backend before `gemm`) on the MLP's own shapes,
//! f32, one thread, 10th percentile of 100 interleaved rounds (2-vCPU Zen 3, AVX2+FMA; GFLOP/s,
//! `gemm` vs `matrixmultiply`, at B = 20 / 128 / 1000):
//!
//! | product | shape | B = 20 | 128 | 1000 |
//! |---|---|---|---|---|
//! | forward, layer 0 | [200×784]·[784×B] | 71 vs 58 | 89 vs 83 | 90 vs 79 |
//! | forward, layer 1 | [10×200]·[200×B] | 35 vs 24 | 55 vs 33 | 56 vs 31 |
//! | ∇W₁ = δ₁·A₁ᵀ | [10×B]·[B×200] | 28 vs 32 | 52 vs 43 | 52 vs 41 |
//! | δ₀ = W₁ᵀ·δ₁ | [200×10]·[10×B] | 32 vs 30 | 54 vs 52 | 61 vs 53 |
//! | ∇W₀ = δ₀·Xᵀ | [200×B]·[B×784] | 75 vs 69 | 76 vs 79 | 85 vs 83 |
//!
//! `gemm` wins or ties (within run-to-run noise, ~5%) every shape, so it is used for all of them.
//! (Measured with `gemm` 0.18; 0.19's AVX2 path is the same code, see `gemm_packed.rs`.)
//!
//! No allocation per call (issue 6): `gemm::gemm` allocates its packing buffers and a flag vector
//! in every call that reaches its packed path — every MLP product does. One-thread calls (every
//! MLP product: a threaded one is two one-thread halves, see `Job::split`) therefore go through
//! `gemm_packed.rs`, the same packed path rebuilt from `gemm`'s public pieces (blocking rules,
//! packing routines, AVX2+FMA or AVX-512 microkernels) with its buffers in a thread-local that
//! is reused: bit-identical to `gemm::gemm`, and as fast or slightly faster (no allocation, no
//! page faults on fresh buffers). Measured like the table above (f32, one thread, 300
//! interleaved rounds, GFLOP/s at the 10th percentile of time, `gemm::gemm` vs `gemm_packed`,
//! same binary; the machine was shared, load average 4–5, so the absolute figures sit below the
//! table above; `gemm` 0.18, AVX2):
//!
//! | product | B = 20 | 128 | 1000 |
//! |---|---|---|---|
//! | forward, layer 0 | 50 vs 49 | 85 vs 85 | 86 vs 86 |
//! | forward, layer 1 | 37 vs 41 | 52 vs 54 | 41 vs 42 |
//! | ∇W₁ = δ₁·A₁ᵀ | 30 vs 34 | 51 vs 53 | 41 vs 41 |
//! | δ₀ = W₁ᵀ·δ₁ | 34 vs 38 | 54 vs 59 | 36 vs 39 |
//! | ∇W₀ = δ₀·Xᵀ | 71 vs 73 | 86 vs 87 | 74 vs 74 |
//!
//! The halves of a threaded product take the whole product's depth blocks (`Job::whole`), so the
//! split is exact whenever both halves take the packed path (`gemm_split_is_exact`), also for
//! shapes whose halves `gemm::gemm` would block differently in depth (e.g. layer 0 of 784→64→10
//! at B = 128); for every MLP product of 784→200→10 the halves' blocking is `gemm`'s own anyway.
//!
//! What allocates now: nothing, on a CPU with AVX2+FMA or AVX-512 — every one-thread product
//! runs `gemm_packed` (V3 or V4 kernels) or one of `gemm`'s non-packed paths, which allocate
//! nothing. Left: a threaded product whose halves would not take the packed path (a half of
//! ≤ 256 elements or k ≤ 2: ≥ 3 MFLOP then needs k in the thousands), which keeps `gemm`'s own
//! threading and its buffers (no MLP product); and CPUs with neither instruction set (other
//! architectures, x86 before AVX2), where every packed product is `gemm::gemm`'s. On the one
//! x86 family `gemm` 0.19 cannot run at all — AVX-512F without BW/DQ/VL (Xeon Phi), where its
//! dispatch picks the AVX-512 kernels and then panics unwrapping `V4::try_new()` — every product
//! is a plain triple loop instead (`gemm_crate_runs`).
//!
//! nalgebra's own `gemm` is not used: for any dimension ≤ 5 it falls back to per-column `axcpy`,
//! which with strided (transposed) views writes out of bounds (nalgebra 0.33.3 `axcpy_uninit`
//! loops over the *slice* length, not the element count).

use crate::Real;
use gemm::Parallelism;
use std::any::TypeId;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[path = "gemm_packed.rs"]
mod packed;

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

/// Products of fewer FLOPs than this are never threaded (≈ 40 µs on one core: rayon's fork and
/// wake-up cost a few µs, and each piece loses some kernel efficiency).
const PAR_MIN_FLOPS: usize = 3_000_000;

/// Whether this call may thread its products: with at least two threads, from outside rayon's
/// workers (a single gradient for SGD) or from a gradient that runs beside its own noise
/// (`kernels::beside`: SGLD, Entropy-SGD's inner loop, Robbins–Monro — the other thread steals
/// the second half once its noise is drawn). Calls already made in parallel (importance samples,
/// Parle replicas) keep every core busy without it.
///
/// Returns the smallest product (in FLOPs) worth splitting, or `None`. Beside the noise the bar is
/// higher: at minibatch 20 the noise alone keeps the second thread busy for as long as the
/// gradient takes, and a split only adds its fork (measured: SGLD 0.42 s unsplit vs 0.50 s split).
fn may_split() -> Option<usize> {
    if rayon::current_num_threads() < 2 {
        None
    } else if rayon::current_thread_index().is_none() {
        Some(PAR_MIN_FLOPS)
    } else if crate::kernels::split_allowed() {
        Some(PAR_MIN_FLOPS_BESIDE_NOISE)
    } else {
        None
    }
}

/// [`PAR_MIN_FLOPS`] for a gradient running beside its noise (see [`may_split`]): the layer-0
/// products at minibatch 128 (40 MFLOP) split, those at minibatch 20 (6 MFLOP) do not.
const PAR_MIN_FLOPS_BESIDE_NOISE: usize = 20_000_000;

/// The instruction set of `gemm_packed`'s kernels (one choice per CPU, never per thread count;
/// see `gemm_packed::isa`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(any(target_arch = "x86", target_arch = "x86_64")),
    allow(dead_code)
)]
enum Isa {
    /// AVX2+FMA: `gemm`'s `fma` microkernels (8 f32 / 4 f64 lanes, tiles of 16 / 8 rows × 6).
    V3,
    /// AVX-512F/BW/CD/DQ/VL: `gemm`'s `avx512f` microkernels (16 f32 / 8 f64 lanes, tiles of
    /// 64 / 32 rows × 6).
    V4,
}

/// The instruction set of this CPU's packed products, or `None` (every product is
/// `gemm::gemm`'s).
fn isa() -> Option<Isa> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    return packed::isa();
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    None
}

/// False only on an x86 CPU with AVX-512F but not the rest of `V4` (BW, CD, DQ, VL: Xeon Phi),
/// where `gemm` 0.19's dispatch picks its AVX-512 kernels on AVX-512F alone and then panics
/// unwrapping `V4::try_new()`: every product there is [`naive`]'s, slow but no panic.
fn gemm_crate_runs() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx512f") && isa() != Some(Isa::V4) {
        return false;
    }
    true
}

/// Whether the two halves of C (see `Job::split`) get every element exactly as in the whole
/// product on this CPU (see [`split_is_exact`]; `Job::go` asks with the job's own `isa`).
#[cfg(test)]
fn gemm_split_is_exact(m: usize, k: usize, n: usize) -> bool {
    split_is_exact(isa(), m, k, n)
}

/// Whether `gemm` 0.19 computes every element of the two halves of C exactly as in the whole
/// product, with `gemm_packed` on `isa` (or `gemm::gemm` itself if `None`): both go through its
/// main path (not the k ≤ 2, matrix-vector or ≤ 16×16 "horizontal" kernels, which reduce in
/// another order; the same early returns on V3 and V4), and both use the same depth blocks. The
/// microkernels of both instruction sets (the one `microkernel!` macro of gemm-common) keep one
/// FMA accumulator lane per element of C, sequential in k within a depth block, and finish each
/// element alone (α·C + β·acc); later depth blocks add onto C in order. Which tile, panel or
/// packing an element falls in — all that the split changes, and all that the wider V4 tiles
/// (64 × 6 instead of 16 × 6) change — moves no rounding. So the halves agree bit for bit iff
/// their depth blocks do: with `gemm_packed` (V3 or V4) they are the whole product's by
/// construction (`Job::whole`); through `gemm::gemm` they agree if k ≤ 512 (a single block on
/// every path) or a half's dimension exceeds 64 (blocks that depend on k alone; below that, a
/// small-matrix path blocks by 512).
fn split_is_exact(isa: Option<Isa>, m: usize, k: usize, n: usize) -> bool {
    let (mh, nh) = if m >= n { (m / 2, n) } else { (m, n / 2) };
    let main_path = mh >= 2 && nh >= 2 && mh * nh > 256 && k > 2;
    main_path && (isa.is_some() || k <= 512 || mh > 64 || nh > 64)
}

/// C = α·A·B + β·C with C contiguous column-major (`a.rows × b.cols`). If β = 0, C is not read.
///
/// Large products (see `may_split`) are threaded over rayon's pool, only ever along the rows and
/// columns of C: as two halves under one `rayon::join` where that is exact (see
/// `gemm_split_is_exact` — every MLP product qualifies), else
/// through `gemm`'s own parallelism, whose blocking depends on the shape alone. One fork beat
/// `gemm`'s own threading, which forks twice (packing, then kernels), by ~15% on the MLP's
/// small-k ∇W products in interleaved runs, and ties elsewhere. Either way every element of C is
/// one dot product accumulated in the same order with or without threads, so the result is
/// bit-identical and independent of the thread count (checked by this file's unit tests for
/// every instruction set the machine has, `tests/nn_threads.rs` and `tests/nn_mlp.rs`).
///
/// Panics if the shapes disagree or an operand does not fit its slice (internal invariant: every
/// caller sizes its buffers from the same [`Mlp`](super::Mlp)).
pub(crate) fn gemm<T: Real>(alpha: T, a: Mat<'_, T>, b: Mat<'_, T>, beta: T, c: &mut [T]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && c.len() >= m * n && a.fits() && b.fits());
    if m == 0 || n == 0 {
        return;
    }
    let threaded = may_split().is_some_and(|min| 2 * m * k * n >= min);
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

/// One product on raw pointers: C (unit row stride, column stride `csc`) = α·A·B + β·C.
#[derive(Clone, Copy)]
struct Job<U> {
    m: usize,
    k: usize,
    n: usize,
    alpha: U,
    beta: U,
    a: *const U,
    rsa: usize,
    csa: usize,
    b: *const U,
    rsb: usize,
    csb: usize,
    c: *mut U,
    csc: usize,
    /// The rows and columns of the whole product: a half of a split one keeps them, and
    /// `gemm_packed` gives it the whole's depth blocks (same sums, same bits).
    whole: (usize, usize),
    /// The kernels of the one-thread products (`isa()`; the tests set others).
    isa: Option<Isa>,
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
    fn new<T>(
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

    unsafe fn go(self, threaded: bool) {
        if !threaded {
            self.run()
        } else if split_is_exact(self.isa, self.m, self.k, self.n) {
            self.split()
        } else {
            self.run_gemm(Parallelism::Rayon(0))
        }
    }

    /// One thread.
    unsafe fn run(self) {
        self.run_gemm(Parallelism::None)
    }

    /// Two halves of C — rows if m ≥ n, else columns — under `rayon::join`.
    unsafe fn split(self) {
        let (x, y) = if self.m >= self.n {
            let h = self.m / 2;
            let top = Job { m: h, ..self };
            let bottom = Job {
                m: self.m - h,
                a: self.a.add(h * self.rsa),
                c: self.c.add(h),
                ..self
            };
            (top, bottom)
        } else {
            let h = self.n / 2;
            let left = Job { n: h, ..self };
            let right = Job {
                n: self.n - h,
                b: self.b.add(h * self.csb),
                c: self.c.add(h * self.csc),
                ..self
            };
            (left, right)
        };
        rayon::join(move || unsafe { x.run() }, move || unsafe { y.run() });
    }

    /// The `gemm` crate's call: dst := a·dst + b·lhs·rhs, strides given as (column, row). On
    /// one thread (x86), through `packed::gemm`: the same computation without allocating.
    unsafe fn run_gemm(self, par: Parallelism) {
        let read_c = self.beta != U::default();
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if matches!(par, Parallelism::None) {
            return packed::gemm(
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

/// Any other `Real` (none in the crate today), or any type on a CPU where `gemm` cannot run
/// (`gemm_crate_runs`): a plain triple loop, same contract.
fn naive<T: Real>(alpha: T, a: Mat<'_, T>, b: Mat<'_, T>, beta: T, c: &mut [T]) {
    let m = a.rows;
    for j in 0..b.cols {
        for i in 0..m {
            let mut s = T::zero();
            for p in 0..a.cols {
                s += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
            }
            let cij = &mut c[i + j * m];
            let old = if beta == T::zero() {
                T::zero()
            } else {
                beta * *cij
            };
            *cij = alpha * s + old;
        }
    }
}

#[cfg(test)]
mod tests {
    //! Every instruction set this CPU has (V4 and V3 on an AVX-512 machine, V3 here), and
    //! `gemm::gemm` itself, against a plain triple loop, and the split (threaded) path against one
    //! call: bit-identical wherever `Job::go` splits. The integration tests only reach the
    //! instruction set `isa()` picks; these reach all that can run.
    use super::*;

    /// Deterministic test values in [−0.5, 0.5).
    fn fill(len: usize, seed: usize) -> Vec<f64> {
        (0..len)
            .map(|i| ((i * 7919 + seed * 104_729) % 1000) as f64 / 1000.0 - 0.5)
            .collect()
    }

    /// The kernels the tests can run here: each runnable instruction set, and `None` (every
    /// product through `gemm::gemm`).
    fn candidates() -> Vec<Option<Isa>> {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        let mut v: Vec<Option<Isa>> = packed::runnable().into_iter().map(Some).collect();
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        let mut v = vec![];
        v.push(None);
        v
    }

    /// (m, k, n, transpose A, transpose B): the MLP's five products at B = 20, ∇W₁ at B = 1000
    /// (k > 512, split exact), layer 0 of 784→64→10 at B = 128 and a ragged one (k > 512 with
    /// halves ≤ 64: split exact only through `gemm_packed`, which blocks the halves as the whole),
    /// a tall one (m > 2 × 64: several V4 row tiles) and a tiny one (never split).
    const SHAPES: [(usize, usize, usize, bool, bool); 10] = [
        (200, 784, 20, false, false),
        (10, 1000, 200, false, true),
        (10, 200, 20, false, false),
        (10, 20, 200, false, true),
        (200, 10, 20, true, false),
        (200, 20, 784, false, true),
        (64, 784, 128, false, false),
        (33, 600, 70, true, true),
        (301, 37, 45, false, false),
        (3, 5, 2, false, false),
    ];

    /// C = α·A·B + β·C on `isa`'s kernels, threaded (split) or not, with C pre-filled.
    fn product<U: Real>(
        isa: Option<Isa>,
        split: bool,
        (m, k, n, ta, tb): (usize, usize, usize, bool, bool),
        alpha: U,
        beta: U,
    ) -> Vec<U> {
        let conv = |v: Vec<f64>| v.into_iter().map(U::lit).collect::<Vec<U>>();
        let (a, b) = (conv(fill(m * k, 1)), conv(fill(k * n, 2)));
        let am = if ta {
            Mat::new(&a, k, m).t()
        } else {
            Mat::new(&a, m, k)
        };
        let bm = if tb {
            Mat::new(&b, n, k).t()
        } else {
            Mat::new(&b, k, n)
        };
        // β = 0 must not read C: NaN garbage there must not leak into the result.
        let init = if beta == U::zero() { f64::NAN } else { 0.25 };
        let mut c = vec![U::lit(init); m * n];
        unsafe {
            let id = TypeId::of::<U>();
            if id == TypeId::of::<f32>() {
                let job = Job::<f32> {
                    isa,
                    ..Job::new(
                        m,
                        k,
                        n,
                        cast(alpha),
                        &am,
                        &bm,
                        cast(beta),
                        c.as_mut_ptr().cast(),
                    )
                };
                if split {
                    job.split()
                } else {
                    job.run()
                }
            } else {
                let job = Job::<f64> {
                    isa,
                    ..Job::new(
                        m,
                        k,
                        n,
                        cast(alpha),
                        &am,
                        &bm,
                        cast(beta),
                        c.as_mut_ptr().cast(),
                    )
                };
                if split {
                    job.split()
                } else {
                    job.run()
                }
            }
        }
        c
    }

    fn check<U: Real>(tol: f64) {
        let isas = candidates();
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            assert!(isas.contains(&Some(Isa::V3)), "{isas:?}");
        }
        for isa in isas {
            for shape in SHAPES {
                let (m, k, n, ta, tb) = shape;
                let (a, b) = (fill(m * k, 1), fill(k * n, 2));
                // α = 1 is the only value the MLP uses; 1.5 checks the kernels' scaling too.
                for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (1.5, 1.0)] {
                    let c = product::<U>(isa, false, shape, U::lit(alpha), U::lit(beta));
                    for j in 0..n {
                        for i in 0..m {
                            let mut s = 0.0;
                            for p in 0..k {
                                let aip = if ta { a[p + i * k] } else { a[i + p * m] };
                                let bpj = if tb { b[j + p * n] } else { b[p + j * k] };
                                s += aip * bpj;
                            }
                            let want = alpha * s + beta * 0.25;
                            let got = c[i + j * m].as_f64();
                            assert!(
                                (got - want).abs() <= tol * (1.0 + s.abs()),
                                "{isa:?} {shape:?} α={alpha} β={beta} ({i},{j}): {got} vs {want}"
                            );
                        }
                    }
                    // The split is bit-identical wherever `go` uses it.
                    if split_is_exact(isa, m, k, n) {
                        let halves = product::<U>(isa, true, shape, U::lit(alpha), U::lit(beta));
                        assert!(
                            c.iter()
                                .zip(&halves)
                                .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits()),
                            "{isa:?} {shape:?} α={alpha} β={beta}: split differs"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_runnable_kernel_set_matches_a_triple_loop_and_its_splits_are_bit_identical_f64() {
        check::<f64>(1e-12);
    }

    #[test]
    fn every_runnable_kernel_set_matches_a_triple_loop_and_its_splits_are_bit_identical_f32() {
        check::<f32>(1e-4);
    }

    /// `packed::gemm` (the allocation-free driver) on this CPU's instruction set (`isa()`, the
    /// one `gemm` dispatches to: V3 here, V4 on an AVX-512 machine) against `gemm::gemm` on one
    /// thread: the same bits for every layout of A and B, C alone or inside a taller matrix,
    /// with and without reading C, on the MLP's products at B = 20 / 128 / 1000 and on ragged
    /// shapes, both through the main path (counted: the comparison must actually exercise it)
    /// and through the paths it hands back to `gemm`.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn packed_matches_gemm<U: Real>() {
        let isa = isa();
        assert!(isa.is_some(), "no AVX2+FMA: nothing to compare");
        let mut shapes = vec![];
        for b in [20, 128, 1000] {
            shapes.extend([
                (200, 784, b),
                (10, 200, b),
                (10, b, 200),
                (200, 10, b),
                (200, b, 784),
            ]);
        }
        for m in [1, 2, 7, 16, 33, 70, 130] {
            for k in [1, 3, 9, 600] {
                for n in [1, 5, 13, 100] {
                    shapes.push((m, k, n));
                }
            }
        }
        let runs_before = packed::MAIN_PATH_RUNS.with(|c| c.get());
        let (mut main, mut other) = (0, 0);
        for (m, k, n) in shapes {
            let conv = |v: Vec<f64>| v.into_iter().map(U::lit).collect::<Vec<U>>();
            let (a, b) = (conv(fill(m * k, 3)), conv(fill(k * n, 4)));
            for (ta, tb, ldc) in [
                (false, false, m),
                (true, false, m),
                (false, true, m),
                (true, true, m),
                // C inside a taller matrix (column stride > m), as a row half of `Job::split`.
                (false, false, m + 3),
                (true, true, m + 3),
            ] {
                let c0 = conv(fill(ldc * n, 5));
                // (column stride, row stride) of A (m × k) and B (k × n).
                let (csa, rsa) = if ta { (1, k) } else { (m, 1) };
                let (csb, rsb) = if tb { (1, n) } else { (k, 1) };
                for (read, scale) in [(false, 0.0), (true, 1.0), (true, 0.5)] {
                    let (alpha, beta) = (U::lit(scale), U::lit(1.25));
                    let mut want = c0.clone();
                    let mut got = c0.clone();
                    unsafe {
                        gemm::gemm(
                            m,
                            n,
                            k,
                            want.as_mut_ptr(),
                            ldc as isize,
                            1,
                            read,
                            a.as_ptr(),
                            csa as isize,
                            rsa as isize,
                            b.as_ptr(),
                            csb as isize,
                            rsb as isize,
                            alpha,
                            beta,
                            false,
                            false,
                            false,
                            Parallelism::None,
                        );
                        packed::gemm(
                            isa,
                            m,
                            n,
                            k,
                            (m, n),
                            got.as_mut_ptr(),
                            ldc,
                            read,
                            a.as_ptr(),
                            csa,
                            rsa,
                            b.as_ptr(),
                            csb,
                            rsb,
                            alpha,
                            beta,
                        );
                    }
                    assert!(
                        want.iter()
                            .zip(&got)
                            .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits()),
                        "{isa:?} ({m}, {k}, {n}) ta={ta} tb={tb} ldc={ldc} read={read} α={scale}: differs"
                    );
                    if packed::takes_main_path(m, n, k, ldc, csa, rsa, csb, rsb) {
                        main += 1;
                    } else {
                        other += 1;
                    }
                }
            }
        }
        assert!(
            main > 900 && other > 150,
            "main path {main}, others {other}"
        );
        // Every main-path product ran on `isa`'s kernels, none on the other set's.
        let runs = packed::MAIN_PATH_RUNS.with(|c| c.get());
        let ran = [runs[0] - runs_before[0], runs[1] - runs_before[1]];
        let want = if isa == Some(Isa::V4) {
            [0, main]
        } else {
            [main, 0]
        };
        assert_eq!(ran, want, "{isa:?}: [V3, V4] runs");
    }

    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn allocation_free_driver_is_bit_identical_to_gemm_f32() {
        packed_matches_gemm::<f32>();
    }

    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn allocation_free_driver_is_bit_identical_to_gemm_f64() {
        packed_matches_gemm::<f64>();
    }

    /// Main-path products run on [V3, V4] kernels by the MLP's five products (f32 and f64) at
    /// B = 20 and 128, through the crate's own entry [`gemm`], in a one-thread pool (so that
    /// nothing is split onto another thread and this thread's counters see every product).
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn kernels_run_by_mlp_products() -> [usize; 2] {
        fn five<U: Real>(b: usize) {
            for (m, k, n, ta, tb) in [
                (200, 784, b, false, false),
                (10, 200, b, false, false),
                (10, b, 200, false, true),
                (200, 10, b, true, false),
                (200, b, 784, false, true),
            ] {
                let (a, x) = (vec![U::lit(0.5); m * k], vec![U::lit(0.25); k * n]);
                let am = if ta {
                    Mat::new(&a, k, m).t()
                } else {
                    Mat::new(&a, m, k)
                };
                let bm = if tb {
                    Mat::new(&x, n, k).t()
                } else {
                    Mat::new(&x, k, n)
                };
                let mut c = vec![U::zero(); m * n];
                gemm(U::one(), am, bm, U::zero(), &mut c);
                let want = U::lit(0.125 * k as f64);
                assert!(c.iter().all(|&v| v == want), "({m}, {k}, {n})");
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| {
            let before = packed::MAIN_PATH_RUNS.with(|c| c.get());
            for b in [20, 128] {
                five::<f32>(b);
                five::<f64>(b);
            }
            let after = packed::MAIN_PATH_RUNS.with(|c| c.get());
            [after[0] - before[0], after[1] - before[1]]
        })
    }

    /// On a CPU with AVX-512F (an AVX-512 CI machine) every MLP product runs `gemm`'s AVX-512
    /// kernels through `gemm_packed` — fails there if any takes another path; without AVX-512F,
    /// none does.
    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn avx512f_cpus_run_every_mlp_product_on_the_v4_kernels() {
        let runs = kernels_run_by_mlp_products();
        if std::arch::is_x86_feature_detected!("avx512f") {
            assert_eq!(isa(), Some(Isa::V4));
            assert_eq!(runs, [0, 20], "[V3, V4] main-path runs of 20 MLP products");
        } else {
            assert_ne!(isa(), Some(Isa::V4));
            assert_eq!(runs[1], 0, "V4 kernels ran without AVX-512F");
        }
    }

    /// On a CPU with AVX2+FMA and no AVX-512F (this one) every MLP product runs `gemm`'s AVX2
    /// kernels through `gemm_packed`.
    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn avx2_cpus_without_avx512f_run_every_mlp_product_on_the_v3_kernels() {
        use std::arch::is_x86_feature_detected as has;
        let runs = kernels_run_by_mlp_products();
        if has!("avx2") && has!("fma") && !has!("avx512f") {
            assert_eq!(isa(), Some(Isa::V3));
            assert_eq!(runs, [20, 0], "[V3, V4] main-path runs of 20 MLP products");
        } else if has!("avx512f") {
            assert_eq!(runs[0], 0, "V3 kernels ran on an AVX-512F CPU");
        }
    }

    /// The halves of every split MLP product get exactly `gemm`'s own blocking for their shape
    /// (the whole's depth blocks agree with theirs), so splitting costs no kernel efficiency, on
    /// V3 (MR = 16 / 8) and V4 (MR = 64 / 32); for (64, 784, 128) they take the whole's depth
    /// blocks, which differ from their own.
    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn split_halves_keep_gemm_blocking_on_mlp_products() {
        let params = |m, n, k, whole| {
            let f = packed::blocking::<f32, 16, 6>(m, n, k, whole);
            let d = packed::blocking::<f64, 8, 6>(m, n, k, whole);
            let f4 = packed::blocking::<f32, 64, 6>(m, n, k, whole);
            let d4 = packed::blocking::<f64, 32, 6>(m, n, k, whole);
            [f, d, f4, d4].map(|p| (p.kc, p.mc, p.nc))
        };
        for b in [20, 128, 1000] {
            for (m, k, n) in [
                (200, 784, b),
                (10, 200, b),
                (10, b, 200),
                (200, 10, b),
                (200, b, 784),
            ] {
                if 2 * m * k * n < PAR_MIN_FLOPS {
                    continue;
                }
                let halves = if m >= n {
                    [(m / 2, n), (m - m / 2, n)]
                } else {
                    [(m, n / 2), (m, n - n / 2)]
                };
                for (hm, hn) in halves {
                    assert_eq!(
                        params(hm, hn, k, (m, n)),
                        params(hm, hn, k, (hm, hn)),
                        "({m}, {k}, {n}) half {hm}×{hn}"
                    );
                }
            }
        }
        let (own, whole) = (
            packed::blocking::<f32, 16, 6>(64, 64, 784, (64, 64)),
            packed::blocking::<f32, 16, 6>(64, 64, 784, (64, 128)),
        );
        assert_eq!(own.kc, 512);
        assert_ne!(whole.kc, own.kc);
        assert_eq!(
            whole.kc,
            packed::blocking::<f32, 16, 6>(64, 128, 784, (64, 128)).kc
        );
    }

    /// Every product of 784→200→10 at the benchmarked minibatches takes the one-fork split.
    #[test]
    fn every_mlp_product_splits_exactly() {
        for b in [20, 128, 1000] {
            for (m, k, n) in [
                (200, 784, b),
                (10, 200, b),
                (10, b, 200),
                (200, 10, b),
                (200, b, 784),
            ] {
                if 2 * m * k * n >= PAR_MIN_FLOPS {
                    assert!(gemm_split_is_exact(m, k, n), "({m}, {k}, {n})");
                }
            }
        }
        // Through `gemm::gemm` the small-matrix path's depth blocks differ from the general
        // path's for k > 512; `gemm_packed` (V3 or V4) blocks the halves as the whole product.
        for isa in [Some(Isa::V3), Some(Isa::V4)] {
            assert!(split_is_exact(isa, 33, 600, 70));
            assert!(split_is_exact(isa, 64, 784, 128));
        }
        assert!(!split_is_exact(None, 33, 600, 70));
        assert!(!split_is_exact(None, 64, 784, 128));
        assert_eq!(gemm_split_is_exact(33, 600, 70), isa().is_some());
        // Halves of ≤ 256 elements take the horizontal kernels: never split.
        assert!(!gemm_split_is_exact(10, 5000, 20));
    }
}
