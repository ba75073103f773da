//! `gemm`'s packed (main) path for one thread, without its per-call allocations, on AVX2+FMA
//! (`V3`) and AVX-512 (`V4`) CPUs.
//!
//! **Copied from gemm-common 0.19.0** (`src/gemm.rs`), which is why Cargo.toml pins `gemm`,
//! `gemm-common`, `gemm-f32` and `gemm-f64` to exactly `=0.19.0`; a new version means checking
//! this file against it again. What is copied:
//!
//! - `main_path` (`packed/main_path.rs`): the main path of `gemm_basic_generic` for
//!   `Parallelism::None` and no conjugation, line for line — the same packing decisions
//!   (`get_rhs_packing_threshold`, `get_lhs_packing_threshold_single_thread`), packing routines
//!   (`pack_operands::pack_lhs`, `pack_rhs`) and microkernels (`gemm_f32`/`gemm_f64`'s
//!   `microkernel::fma` and `microkernel::avx512f`), all public items of those crates;
//! - [`takes_main_path`]: the early returns `gemm_basic_generic` takes before it (k = 0, k ≤ 2,
//!   the ≤ 16×16 horizontal kernels, matrix-vector);
//! - [`blocking`]: its blocking (`kc`, `mc`, `nc`): the small-matrix rule for m, n ≤ 64, else
//!   `cache::kernel_params`;
//! - the choice of kernel set per CPU (`isa.rs`): `gemm_def!`'s `init_gemm_fn`.
//!
//! Why: `gemm_basic_generic` allocates on every call that reaches its main path (a
//! `dyn_stack::MemBuffer` for the packed B and pre-packed A, and a `Vec<bool>` of "panel packed"
//! flags). Here every buffer comes from a per-thread pool (`pool.rs`) that grows to the largest
//! product seen, so once warm a product allocates nothing, and it computes bit for bit what
//! `gemm::gemm` computes with `Parallelism::None` (checked by the unit tests in
//! `tests_packed.rs` over the MLP's shapes, ragged shapes and every operand layout, on whichever
//! instruction set the test machine has; the V4 path only where they run on an AVX-512 CPU). Any
//! call the main path would not see, and any CPU with neither kernel set, goes to `gemm::gemm`
//! itself (which allocates nothing on those paths; on the latter it does).
//!
//! Instantiations, chosen once per CPU as `gemm` chooses: `V4` — `microkernel::avx512f` (16 f32
//! / 8 f64 lanes, 4 × 6 tiles of registers: MR = 64 / 32, NR = 6) — where AVX-512F/BW/CD/DQ/VL
//! are present, else `V3` — `microkernel::fma` (8 / 4 lanes, 2 × 6: MR = 16 / 8, NR = 6). Both
//! kernel sets have horizontal kernels (`H_M`, `H_N` > 0), so [`takes_main_path`] is the same
//! test for V3 and V4.
//!
//! One deliberate extension: the depth blocks may be taken from a larger product (`block_m`,
//! `block_n`). A half of a split product (`Job::split`) uses the whole product's depth blocks, so
//! each element of C is the same sequence of FMAs as without the split, whatever the shape (with
//! `gemm::gemm` the halves of a small product could block differently). Where the depth blocks
//! agree anyway (every MLP product), the half is blocked exactly as by `gemm`.

#![cfg(any(target_arch = "x86", target_arch = "x86_64"))]

use super::cast;
use super::isa::Isa;
use gemm_common::cache::{kernel_params, DivCeil, KernelParams, CACHE_INFO};
use gemm_common::simd::{V3, V4};
use main_path::main_path;
use std::any::TypeId;

mod main_path;

#[cfg(test)]
thread_local! {
    /// Main-path products this thread has run with each instruction set, [V3, V4]: lets the unit
    /// tests check which kernels actually ran.
    pub(super) static MAIN_PATH_RUNS: std::cell::Cell<[usize; 2]> =
        const { std::cell::Cell::new([0; 2]) };
}

/// Counts one main-path product on `isa` (tests only).
#[cfg(test)]
fn count(isa: Isa) {
    MAIN_PATH_RUNS.with(|c| {
        let mut v = c.get();
        v[usize::from(isa == Isa::V4)] += 1;
        c.set(v);
    });
}

/// dst := α·dst + β·lhs·rhs in `gemm`'s own convention (note: α scales the old C, β the
/// product), with C column-major: unit row stride, column stride `dst_cs`. If `read_dst` is
/// false, C is not read. The depth blocks are those `gemm` picks for a `block_m × block_n`
/// product of depth k (see [`blocking`]): pass `m`, `n` for `gemm::gemm`'s bits, the whole
/// product's for a half of a split one. The main path runs the microkernels of `isa`: pass
/// [`isa()`](super::isa::isa) for `gemm::gemm`'s bits (the unit tests also pass V3 on an
/// AVX-512 CPU). `T` is `f32` or `f64`; any other type, `isa` = `None` (or not runnable on this CPU), or a call that
/// `gemm` would not send down its main path is handed to `gemm::gemm` (which allocates nothing
/// on the paths other than its main one).
///
/// # Safety
/// As `gemm::gemm`: every element addressed by the shapes and strides is inside its allocation,
/// C does not alias A or B.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm<T: Copy + PartialEq + Default + 'static>(
    isa: Option<Isa>,
    m: usize,
    n: usize,
    k: usize,
    (block_m, block_n): (usize, usize),
    dst: *mut T,
    dst_cs: usize,
    read_dst: bool,
    lhs: *const T,
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: *const T,
    rhs_cs: usize,
    rhs_rs: usize,
    alpha: T,
    beta: T,
) {
    let delegate = || {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            1,
            read_dst,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            alpha,
            beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    };
    if !takes_main_path(m, n, k, dst_cs, lhs_cs, lhs_rs, rhs_cs, rhs_rs) {
        return delegate();
    }
    let id = TypeId::of::<T>();
    let blocks = (block_m.max(m), block_n.max(n));
    // One instantiation per (instruction set, type): `N` lanes, MR = MR_DIV_N·N rows and NR
    // columns per microkernel tile, all from the kernel module `gemm` itself dispatches to.
    macro_rules! run {
        ($simd:expr, $t:ty, $lanes:literal, $ukr:path) => {{
            use $ukr as ukr;
            main_path::<$t, _, $lanes, { ukr::MR_DIV_N * $lanes }, { ukr::NR }, { ukr::MR_DIV_N }>(
                $simd,
                &ukr::UKR,
                m,
                n,
                k,
                blocks,
                dst.cast(),
                dst_cs,
                read_dst,
                lhs.cast(),
                lhs_cs,
                lhs_rs,
                rhs.cast(),
                rhs_cs,
                rhs_rs,
                cast(alpha),
                cast(beta),
            )
        }};
    }
    let (f32_, f64_) = (id == TypeId::of::<f32>(), id == TypeId::of::<f64>());
    match isa {
        Some(Isa::V4) if f32_ || f64_ => {
            let Some(simd) = V4::try_new() else {
                return delegate();
            };
            #[cfg(test)]
            count(Isa::V4);
            if f32_ {
                run!(simd, f32, 16, gemm_f32::microkernel::avx512f::f32)
            } else {
                run!(simd, f64, 8, gemm_f64::microkernel::avx512f::f64)
            }
        }
        Some(Isa::V3) if f32_ || f64_ => {
            let Some(simd) = V3::try_new() else {
                return delegate();
            };
            #[cfg(test)]
            count(Isa::V3);
            if f32_ {
                run!(simd, f32, 8, gemm_f32::microkernel::fma::f32)
            } else {
                run!(simd, f64, 4, gemm_f64::microkernel::fma::f64)
            }
        }
        _ => delegate(),
    }
}

/// Whether `gemm_basic_generic` (gemm-common 0.19.0) sends this call (C with unit row stride, no
/// conjugation, AVX2+FMA or AVX-512 kernels, both of which include horizontal ones) down its
/// main path: the early returns it takes before, in its order (the same on V3 and V4).
#[allow(clippy::too_many_arguments)]
pub(super) fn takes_main_path(
    m: usize,
    n: usize,
    k: usize,
    dst_cs: usize,
    lhs_cs: usize,
    lhs_rs: usize,
    rhs_cs: usize,
    rhs_rs: usize,
) -> bool {
    let dst_rs = 1;
    let horizontal = lhs_cs == 1 && rhs_rs == 1 && m * n <= 16 * 16;
    let gemv = (n <= 1 && lhs_rs == 1 && dst_rs == 1)
        || (n <= 1 && lhs_cs == 1 && rhs_rs == 1)
        || (m <= 1 && rhs_cs == 1 && dst_cs == 1)
        || (m <= 1 && rhs_rs == 1 && lhs_cs == 1);
    m > 0 && n > 0 && k > 2 && !horizontal && !gemv
}

/// `gemm`'s blocking for an m × n product of depth k: its small-matrix rule (both ≤ 64: one depth
/// block up to 512, row blocks filling L2) or `kernel_params`. With a larger `whole` product
/// whose depth blocks differ (a half of a split one), its `kc` instead, with row blocks re-fitted
/// to L2 by the small-matrix rule; otherwise exactly `gemm`'s choice for m × n.
pub(super) fn blocking<T, const MR: usize, const NR: usize>(
    m: usize,
    n: usize,
    k: usize,
    whole: (usize, usize),
) -> KernelParams {
    let l2 = CACHE_INFO[1].cache_bytes / std::mem::size_of::<T>();
    let own = |m: usize, n: usize| {
        if m <= 64 && n <= 64 {
            let kc = k.min(512);
            KernelParams {
                kc,
                mc: (l2 / kc) / MR * MR,
                nc: n.msrv_next_multiple_of(NR),
            }
        } else {
            kernel_params(m, n, k, MR, NR, std::mem::size_of::<T>())
        }
    };
    let mine = own(m, n);
    if whole == (m, n) {
        return mine;
    }
    let kc = own(whole.0, whole.1).kc;
    if kc == mine.kc {
        mine
    } else {
        KernelParams {
            kc,
            mc: ((l2 / kc) / MR * MR).max(MR),
            nc: mine.nc,
        }
    }
}
