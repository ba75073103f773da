//! The `gemm` crate's packed (main) path without its per-call allocations, on AVX2+FMA (`V3`)
//! and AVX-512 (`V4`) CPUs.
//!
//! Issue 6 asks for no allocation inside any inner loop. `gemm` 0.19 allocates on every call
//! that reaches its main path (gemm-common 0.19.0, `gemm_basic_generic`): a `MemBuffer` for the
//! packed right-hand side and the pre-packed left-hand side (`MemBuffer::new`, whenever either is
//! packed), and a `Vec<bool>` of "left panel already packed" flags (`alloc::vec!`, always). Its
//! third buffer, the packed left panel, already lives in a thread-local (`L2_SLAB`). The other
//! paths (k = 0, k ≤ 2, matrix-vector, the ≤ 16×16 "horizontal" kernels) allocate nothing.
//!
//! [`gemm`] is that main path for one thread, line for line — the same blocking (`kc`, `mc`,
//! `nc` from `kernel_params` or the small-matrix rule), the same packing decisions and routines
//! and the same microkernels, all public items of `gemm-common`/`gemm-f32`/`gemm-f64` — with
//! every buffer in one thread-local scratch that grows to the largest product seen and is then
//! reused (what `gemm` would allocate for that product: for 784→200→10 at B = 1000, 1.8 MiB per
//! thread in f32, 3.3 MiB in f64, on AVX2). It therefore computes bit-for-bit what `gemm::gemm`
//! computes with `Parallelism::None` (checked by the unit tests in `gemm.rs` over the MLP's
//! shapes, ragged shapes and every operand layout, on whichever of the two instruction sets the
//! test machine has). Any call the main path would not see, and any CPU with neither, goes to
//! `gemm::gemm` itself (which allocates nothing on those paths; on the latter it does).
//!
//! Two instantiations, chosen once per CPU ([`isa`]) as `gemm` 0.19 chooses (with its `x86-v4`
//! feature, which builds the AVX-512 kernels on stable Rust): `V4` — `gemm_f32`/`gemm_f64`'s
//! `microkernel::avx512f` (16 f32 / 8 f64 lanes, 4 × 6 tiles of registers: MR = 64 / 32,
//! NR = 6) — where AVX-512F/BW/CD/DQ/VL are present, else `V3` — `microkernel::fma` (8 / 4 lanes,
//! 2 × 6: MR = 16 / 8, NR = 6). gemm-common 0.19.0's `gemm_basic_generic` is 0.18.2's with
//! only `cfg(feature = "nightly")` renamed to `cfg(feature = "x86-v4")`: the same blocking rules,
//! packing thresholds and early returns on both instruction sets, and both kernel sets have
//! horizontal kernels (`H_M`, `H_N` > 0), so [`takes_main_path`] is the same test for V3 and V4.
//! The V4 path is unmeasured here (this machine has no AVX-512) and its bit-identity with
//! `gemm::gemm` is checked only where the tests run on an AVX-512 CPU.
//!
//! One deliberate extension: the depth blocks may be taken from a larger product (`block_m`,
//! `block_n`). A half of a split product (`Job::split` in `gemm.rs`) uses the whole product's
//! depth blocks, so each element of C is the same sequence of FMAs as without the split, whatever
//! the shape (with `gemm::gemm` the halves of a small product could block differently). Where
//! the depth blocks agree anyway (every MLP product), the half is blocked exactly as by `gemm`.

#![cfg(any(target_arch = "x86", target_arch = "x86_64"))]

use gemm_common::cache::{kernel_params, DivCeil, KernelParams, CACHE_INFO};
use gemm_common::gemm::{
    get_lhs_packing_threshold_single_thread, get_rhs_packing_threshold, CACHELINE_ALIGN,
};
use gemm_common::microkernel::MicroKernelFn;
use gemm_common::pack_operands::{pack_lhs, pack_rhs};
use gemm_common::simd::{MixedSimd, V3, V4};
use gemm_common::Ptr;
use std::any::TypeId;
use std::cell::RefCell;
use std::sync::OnceLock;

use super::Isa;

/// One cache line of scratch: the unit the scratch grows by, so every region is aligned as
/// `gemm` aligns its own buffers.
#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct Line([u8; CACHELINE_ALIGN]);

/// The per-thread buffers of one product: packed right-hand side, pre-packed or packed
/// left-hand side, and the "panel packed" flags. Grows, never shrinks.
struct Scratch {
    lines: Vec<Line>,
    flags: Vec<bool>,
}

thread_local! {
    /// One scratch per thread: rayon's workers each compute their own halves of C.
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { lines: Vec::new(), flags: Vec::new() })
    };
}

/// Lines needed for `len` elements of `T`.
fn lines_for<T>(len: usize) -> usize {
    (len * std::mem::size_of::<T>()).div_ceil(std::mem::size_of::<Line>())
}

/// The instruction set [`gemm`] runs its packed path with on this CPU, or `None` (neither
/// AVX-512 nor AVX2+FMA: every call goes to `gemm::gemm`). The same choice as `gemm` 0.19's own
/// dispatch (`gemm_def!`: AVX-512F, else FMA), which unwraps `V4::try_new()` / `V3::try_new()`:
/// wherever `gemm` runs at all, `V4` here is its `avx512f` kernels and `V3` its `fma` ones.
/// Detected once (a few atomic loads afterwards).
pub(super) fn isa() -> Option<Isa> {
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

/// Every instruction set this CPU can run [`gemm`]'s packed path with (V4 implies V3): what the
/// unit tests exercise.
#[cfg(test)]
pub(super) fn runnable() -> Vec<Isa> {
    let mut v = vec![];
    if V4::try_new().is_some() {
        v.push(Isa::V4);
    }
    if V3::try_new().is_some() {
        v.push(Isa::V3);
    }
    v
}

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
/// [`isa()`] for `gemm::gemm`'s bits (the unit tests also pass V3 on an AVX-512 CPU). `T` is
/// `f32` or `f64`; any other type, `isa` = `None` (or not runnable on this CPU), or a call that
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

/// `x` reinterpreted as `U`. Caller: `T` and `U` are the same type (checked by `TypeId`).
unsafe fn cast<T: Copy, U: Copy>(x: T) -> U {
    *(&x as *const T as *const U)
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

/// The main path of `gemm_basic_generic` for `Parallelism::None` and no conjugation, with its
/// buffers in [`SCRATCH`] (or, should that be unavailable — thread teardown, a re-entrant call,
/// neither of which the MLP makes — in a fresh one), with the depth blocks of a `blocks` =
/// (rows, columns) product of depth k.
///
/// `S` is the instruction set (`V3` or `V4`), `N` its SIMD width in `T`s, `MR = MR_DIV_N·N`
/// and `NR` the microkernel's tile.
#[allow(clippy::too_many_arguments)]
unsafe fn main_path<
    T,
    S: MixedSimd<T, T, T, T>,
    const N: usize,
    const MR: usize,
    const NR: usize,
    const MR_DIV_N: usize,
>(
    simd: S,
    ukr: &[[MicroKernelFn<T>; NR]; MR_DIV_N],
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
) where
    T: Copy + PartialEq + num_traits::Zero + num_traits::One + 'static,
{
    // The lane count and tile given by the caller are the instruction set's own.
    const { assert!(N == <S as MixedSimd<T, T, T, T>>::SIMD_WIDTH && MR == MR_DIV_N * N) };
    let alpha = if read_dst { alpha } else { T::zero() };
    let KernelParams { kc, mc, nc } = blocking::<T, MR, NR>(m, n, k, (block_m, block_n));
    let nc = if nc > 0 { nc } else { 128 * NR };
    let packed_rhs_stride = kc * NR;
    let packed_lhs_stride = kc * MR;

    // gemm's rules: pack B unless its columns are contiguous and C short; pre-pack all of A if
    // it fits two row blocks and is ragged or strided; otherwise pack A per row block as needed.
    let do_pack_rhs =
        (rhs_rs != 1 && m > 2 * MR) || (rhs_rs == 1 && m > get_rhs_packing_threshold() * MR);
    let do_prepack_lhs = m <= 2 * mc && (!m.is_multiple_of(N) || lhs_rs != 1);

    let rhs_len = if do_pack_rhs {
        packed_rhs_stride * (nc / NR)
    } else {
        0
    };
    let lhs_len = if do_prepack_lhs {
        packed_lhs_stride * (m.msrv_next_multiple_of(MR) / MR)
    } else {
        packed_lhs_stride * mc.div_ceil(MR)
    };
    let (rhs_lines, lhs_lines) = (lines_for::<T>(rhs_len), lines_for::<T>(lhs_len));

    let run = |scratch: &mut Scratch| {
        if scratch.lines.len() < rhs_lines + lhs_lines {
            scratch
                .lines
                .resize(rhs_lines + lhs_lines, Line([0; CACHELINE_ALIGN]));
        }
        if scratch.flags.len() < mc.div_ceil(MR) {
            scratch.flags.resize(mc.div_ceil(MR), false);
        }
        let base = scratch.lines.as_mut_ptr();
        let packed_rhs = Ptr(base.cast::<T>());
        let packed_lhs = Ptr(base.add(rhs_lines).cast::<T>());
        let did_pack_lhs = &mut scratch.flags[..mc.div_ceil(MR)];

        let (lhs_cs, lhs_rs) = (lhs_cs as isize, lhs_rs as isize);
        let (rhs_cs, rhs_rs) = (rhs_cs as isize, rhs_rs as isize);
        let (dst_cs, dst_rs) = (dst_cs as isize, 1isize);
        let lhs = Ptr(lhs as *mut T);
        let rhs = Ptr(rhs as *mut T);
        let packed_rhs_rs = if do_pack_rhs { NR as isize } else { rhs_rs };
        let packed_rhs_cs = if do_pack_rhs { 1 } else { rhs_cs };
        let packing_threshold = get_lhs_packing_threshold_single_thread();

        let mut col_outer = 0;
        while col_outer != n {
            let n_chunk = nc.min(n - col_outer);
            // α scales C in the first depth block only; later blocks accumulate.
            let mut alpha = alpha;
            let mut depth_outer = 0;
            while depth_outer != k {
                let k_chunk = kc.min(k - depth_outer);
                let alpha_status = if alpha.is_zero() {
                    0
                } else if alpha.is_one() {
                    1
                } else {
                    2
                };
                if do_pack_rhs {
                    // As gemm on x86: B packed with unit SIMD width.
                    pack_rhs::<T, 1, NR, _>(
                        simd,
                        n_chunk,
                        k_chunk,
                        packed_rhs,
                        rhs.wrapping_offset(
                            depth_outer as isize * rhs_rs + col_outer as isize * rhs_cs,
                        ),
                        rhs_cs,
                        rhs_rs,
                        packed_rhs_stride,
                    );
                }
                if do_prepack_lhs {
                    pack_lhs::<T, N, MR, _>(
                        simd,
                        m,
                        k_chunk,
                        packed_lhs,
                        lhs.wrapping_offset(depth_outer as isize * lhs_cs),
                        lhs_cs,
                        lhs_rs,
                        packed_lhs_stride,
                    );
                }
                let n_col_mini_chunks = n_chunk.div_ceil(NR);

                let mut row_outer = 0;
                while row_outer != m {
                    let mut m_chunk = mc.min(m - row_outer);
                    if m_chunk > N && !do_prepack_lhs {
                        m_chunk = m_chunk / N * N;
                    }
                    let n_row_mini_chunks = m_chunk.div_ceil(MR);
                    let do_pack_lhs = !do_prepack_lhs
                        && (!m_chunk.is_multiple_of(N)
                            || lhs_rs != 1
                            || n_chunk > packing_threshold * NR);
                    let packed_lhs_cs = if do_prepack_lhs || do_pack_lhs {
                        MR as isize
                    } else {
                        lhs_cs
                    };
                    did_pack_lhs.fill(false);
                    for j in 0..n_col_mini_chunks {
                        for (i, packed) in did_pack_lhs[..n_row_mini_chunks].iter_mut().enumerate()
                        {
                            let col_inner = NR * j;
                            let n_chunk_inner = NR.min(n_chunk - col_inner);
                            let row_inner = MR * i;
                            let m_chunk_inner = MR.min(m_chunk - row_inner);
                            let dst = dst.wrapping_offset(
                                (row_outer + row_inner) as isize * dst_rs
                                    + (col_outer + col_inner) as isize * dst_cs,
                            );
                            let func = ukr[m_chunk_inner.div_ceil(N) - 1][n_chunk_inner - 1];
                            if do_pack_lhs && !*packed {
                                pack_lhs::<T, N, MR, _>(
                                    simd,
                                    m_chunk_inner,
                                    k_chunk,
                                    packed_lhs.wrapping_add(i * packed_lhs_stride),
                                    lhs.wrapping_offset(
                                        (row_outer + row_inner) as isize * lhs_rs
                                            + depth_outer as isize * lhs_cs,
                                    ),
                                    lhs_cs,
                                    lhs_rs,
                                    packed_lhs_stride,
                                );
                                *packed = true;
                            }
                            let a = if do_pack_lhs {
                                packed_lhs.wrapping_add(i * packed_lhs_stride).0
                            } else if do_prepack_lhs {
                                packed_lhs
                                    .wrapping_add((i + row_outer / MR) * packed_lhs_stride)
                                    .0
                            } else {
                                lhs.wrapping_offset(
                                    (row_outer + row_inner) as isize * lhs_rs
                                        + depth_outer as isize * lhs_cs,
                                )
                                .0
                            };
                            let b = if do_pack_rhs {
                                packed_rhs.wrapping_add(j * packed_rhs_stride).0
                            } else {
                                rhs.wrapping_offset(
                                    depth_outer as isize * rhs_rs
                                        + (col_outer + col_inner) as isize * rhs_cs,
                                )
                                .0
                            };
                            func(
                                m_chunk_inner,
                                n_chunk_inner,
                                k_chunk,
                                dst,
                                a,
                                b,
                                dst_cs,
                                dst_rs,
                                packed_lhs_cs,
                                packed_rhs_rs,
                                packed_rhs_cs,
                                alpha,
                                beta,
                                alpha_status,
                                false,
                                false,
                                false,
                                std::ptr::null(),
                            );
                        }
                    }
                    row_outer += m_chunk;
                }
                alpha = T::one();
                depth_outer += k_chunk;
            }
            col_outer += n_chunk;
        }
    };
    let used = SCRATCH.try_with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            run(&mut s);
            true
        }
        Err(_) => false,
    });
    if used != Ok(true) {
        run(&mut Scratch {
            lines: Vec::new(),
            flags: Vec::new(),
        });
    }
}
