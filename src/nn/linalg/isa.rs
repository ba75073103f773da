//! Which of the `gemm` crate's kernel sets this CPU runs ([`isa`]): one choice per CPU, never per
//! thread count, made as `gemm` 0.19's own dispatch makes it.

/// The instruction set of the packed driver's kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(any(target_arch = "x86", target_arch = "x86_64")),
    allow(dead_code)
)]
pub(super) enum Isa {
    /// AVX2+FMA: `gemm`'s `fma` microkernels (8 f32 / 4 f64 lanes, tiles of 16 / 8 rows × 6).
    V3,
    /// AVX-512F/BW/CD/DQ/VL: `gemm`'s `avx512f` microkernels (16 f32 / 8 f64 lanes, tiles of
    /// 64 / 32 rows × 6).
    V4,
}

/// The instruction set the packed driver runs its packed path with on this CPU, or `None`
/// (neither AVX-512 nor AVX2+FMA, or not x86: every product is `gemm::gemm`'s). The same choice
/// as `gemm` 0.19's own dispatch (`gemm_def!`: AVX-512F, else FMA), which unwraps
/// `V4::try_new()` / `V3::try_new()`: wherever `gemm` runs at all, `V4` here is its `avx512f`
/// kernels and `V3` its `fma` ones. Detected once (a few atomic loads afterwards).
pub(super) fn isa() -> Option<Isa> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        use gemm_common::simd::{V3, V4};
        use std::sync::OnceLock;
        static ISA: OnceLock<Option<Isa>> = OnceLock::new();
        *ISA.get_or_init(|| {
            if V4::try_new().is_some() {
                Some(Isa::V4)
            } else if V3::try_new().is_some() {
                Some(Isa::V3)
            } else {
                None
            }
        })
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    None
}

/// Every instruction set this CPU can run the packed path with (V4 implies V3): what the unit
/// tests exercise.
#[cfg(all(test, any(target_arch = "x86", target_arch = "x86_64")))]
pub(super) fn runnable() -> Vec<Isa> {
    use gemm_common::simd::{V3, V4};
    let mut v = vec![];
    if V4::try_new().is_some() {
        v.push(Isa::V4);
    }
    if V3::try_new().is_some() {
        v.push(Isa::V3);
    }
    v
}
