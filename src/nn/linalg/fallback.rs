//! The path for what the `gemm` crate cannot do: a plain triple loop ([`naive`]) for any other
//! [`Real`] and for CPUs where `gemm` 0.19 panics ([`gemm_crate_runs`]).

use super::Mat;
use crate::Real;

/// False only on an x86 CPU with AVX-512F but not the rest of `V4` (BW, CD, DQ, VL: Xeon Phi),
/// where `gemm` 0.19's dispatch picks its AVX-512 kernels on AVX-512F alone and then panics
/// unwrapping `V4::try_new()`: every product there is [`naive`]'s, slow but no panic.
pub(super) fn gemm_crate_runs() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx512f")
        && super::isa::isa() != Some(super::isa::Isa::V4)
    {
        return false;
    }
    true
}

/// Any other `Real` (none in the crate today), or any type on a CPU where `gemm` cannot run
/// ([`gemm_crate_runs`]): a plain triple loop, same contract as [`gemm`](super::gemm).
pub(super) fn naive<T: Real>(alpha: T, a: Mat<'_, T>, b: Mat<'_, T>, beta: T, c: &mut [T]) {
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
