//! Splitting a product over C: when a product is threaded ([`may_split`]), when its two halves
//! get every element exactly as the whole product does ([`split_is_exact`]), and the split
//! itself ([`Job::split`]).
//!
//! A product is only ever split along the rows or columns of C, never along its depth, so each
//! element of C stays one dot product; the halves are one-thread products under one
//! `rayon::join`.

use super::isa::Isa;
use super::job::Job;
use crate::objective::Parallelism;

/// Products of fewer FLOPs than this are never threaded (≈ 40 µs on one core: rayon's fork and
/// wake-up cost a few µs, and each piece loses some kernel efficiency).
pub(super) const PAR_MIN_FLOPS: usize = 3_000_000;

/// Whether a call with hint `par` may thread its products: with at least two threads, unless
/// every thread is busy ([`Parallelism::AllThreadsBusy`]: Parle's replicas), from outside rayon's
/// workers (a single gradient for SGD) or from a gradient told that a thread is idle beside it
/// ([`Parallelism::IdleThreadBeside`]: SGLD, Entropy-SGD's inner loop, Robbins–Monro, whose
/// gradient runs beside its own noise — the other thread steals the second half once its noise
/// is drawn). Calls already made in parallel (importance samples, the points of a mean gradient)
/// keep every core busy without it.
///
/// Returns the smallest product (in FLOPs) worth splitting, or `None`. Beside the noise the bar is
/// higher: at minibatch 20 the noise alone keeps the second thread busy for as long as the
/// gradient takes, and a split only adds its fork (SGLD ran slower split than unsplit there; see
/// docs/performance.md).
pub(super) fn may_split(par: Parallelism) -> Option<usize> {
    if rayon::current_num_threads() < 2 || par == Parallelism::AllThreadsBusy {
        None
    } else if rayon::current_thread_index().is_none() {
        Some(PAR_MIN_FLOPS)
    } else if par == Parallelism::IdleThreadBeside {
        Some(PAR_MIN_FLOPS_BESIDE_NOISE)
    } else {
        None
    }
}

/// [`PAR_MIN_FLOPS`] for a gradient running beside its noise (see [`may_split`]): the layer-0
/// products at minibatch 128 (40 MFLOP) split, those at minibatch 20 (6 MFLOP) do not.
const PAR_MIN_FLOPS_BESIDE_NOISE: usize = 20_000_000;

/// Whether the two halves of C (see [`Job::split`]) get every element exactly as in the whole
/// product on this CPU (see [`split_is_exact`]; `Job::go` asks with the job's own `isa`).
#[cfg(test)]
pub(super) fn gemm_split_is_exact(m: usize, k: usize, n: usize) -> bool {
    split_is_exact(super::isa::isa(), m, k, n)
}

/// Whether `gemm` 0.19 computes every element of the two halves of C exactly as in the whole
/// product, with the packed driver on `isa` (or `gemm::gemm` itself if `None`): both go through
/// its main path (not the k ≤ 2, matrix-vector or ≤ 16×16 "horizontal" kernels, which reduce in
/// another order; the same early returns on V3 and V4), and both use the same depth blocks. The
/// microkernels of both instruction sets (the one `microkernel!` macro of gemm-common) keep one
/// FMA accumulator lane per element of C, sequential in k within a depth block, and finish each
/// element alone (α·C + β·acc); later depth blocks add onto C in order. Which tile, panel or
/// packing an element falls in — all that the split changes, and all that the wider V4 tiles
/// (64 × 6 instead of 16 × 6) change — moves no rounding. So the halves agree bit for bit iff
/// their depth blocks do: with the packed driver (V3 or V4) they are the whole product's by
/// construction (`Job::whole`); through `gemm::gemm` they agree if k ≤ 512 (a single block on
/// every path) or a half's dimension exceeds 64 (blocks that depend on k alone; below that, a
/// small-matrix path blocks by 512).
pub(super) fn split_is_exact(isa: Option<Isa>, m: usize, k: usize, n: usize) -> bool {
    let (mh, nh) = if m >= n { (m / 2, n) } else { (m, n / 2) };
    let main_path = mh >= 2 && nh >= 2 && mh * nh > 256 && k > 2;
    main_path && (isa.is_some() || k <= 512 || mh > 64 || nh > 64)
}

impl<U> Job<U>
where
    U: Copy + PartialEq + Default + Send + Sync + 'static,
{
    /// Two halves of C — rows if m ≥ n, else columns — under `rayon::join`.
    pub(super) unsafe fn split(self) {
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
}
