//! The copied loop: the main path of gemm-common 0.19.0's `gemm_basic_generic` (`src/gemm.rs`)
//! for `Parallelism::None` and no conjugation, line for line, with its buffers from the pool
//! (`pool.rs`) instead of allocated per call. See `packed.rs` for what else is copied and why the
//! `gemm` crates are pinned to `=0.19.0`.

use super::blocking;
use crate::nn::linalg::pool::{with_scratch, Scratch};
use gemm_common::cache::{DivCeil, KernelParams};
use gemm_common::gemm::{get_lhs_packing_threshold_single_thread, get_rhs_packing_threshold};
use gemm_common::microkernel::MicroKernelFn;
use gemm_common::pack_operands::{pack_lhs, pack_rhs};
use gemm_common::simd::MixedSimd;
use gemm_common::Ptr;

/// The main path of `gemm_basic_generic` for `Parallelism::None` and no conjugation, with its
/// buffers from the pool ([`with_scratch`]) and the depth blocks of a `blocks` = (rows, columns)
/// product of depth k.
///
/// `S` is the instruction set (`V3` or `V4`), `N` its SIMD width in `T`s, `MR = MR_DIV_N·N`
/// and `NR` the microkernel's tile.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn main_path<
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

    with_scratch(|scratch: &mut Scratch| {
        let (packed_rhs, packed_lhs, did_pack_lhs) =
            scratch.regions::<T>(rhs_len, lhs_len, mc.div_ceil(MR));
        let (packed_rhs, packed_lhs) = (Ptr(packed_rhs), Ptr(packed_lhs));

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
    });
}
