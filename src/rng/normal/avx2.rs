//! [`super::pair`] on 8·`CHAINS` pairs at a time with AVX2 intrinsics, the independent 8-lane
//! chains interleaved instruction by instruction. The compiler-vectorized loop runs one chain of
//! ~90 dependent-ish operations per 8 pairs (the degree-9 `ln` polynomial alone is 20 in a row),
//! so the FP units wait on latency most of the time; interleaving hides it. Every operation is
//! the scalar code's operation in the scalar code's order (no FMA), so the results are
//! bit-identical to [`super::pair`] (checked by the tests).

use super::{INV_2_24, PAIRS, ROUND};
use std::arch::x86_64::*;

/// Independent 8-lane chains per iteration.
const CHAINS: usize = 2;
const STEP: usize = 8 * CHAINS;
const _: () = assert!(PAIRS.is_multiple_of(STEP));

/// `op` applied to each chain: `each!(|i| expr)` gives `[expr(0), expr(1), …]`.
macro_rules! each {
    (|$i:ident| $e:expr) => {{
        let mut out = [unsafe { std::mem::zeroed() }; CHAINS];
        for $i in 0..CHAINS {
            out[$i] = $e;
        }
        out
    }};
}

/// See the module docs. `lo.len() == hi.len() ≤ PAIRS`.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
#[allow(clippy::excessive_precision)] // Cephes' coefficients, as published
pub(super) unsafe fn transform(words: &[u32; 2 * PAIRS], lo: &mut [f32], hi: &mut [f32]) {
    let n = lo.len().min(hi.len()).min(PAIRS);
    let ps = _mm256_set1_ps;
    let mut j = 0;
    while j < n {
        // Words j.. and PAIRS + j.. always exist (PAIRS is a multiple of STEP).
        let wa: [__m256i; CHAINS] =
            each!(|i| unsafe { _mm256_loadu_si256(words.as_ptr().add(j + 8 * i).cast()) });
        let wb: [__m256i; CHAINS] =
            each!(|i| unsafe { _mm256_loadu_si256(words.as_ptr().add(PAIRS + j + 8 * i).cast()) });
        // u = (⌊a/2⁸⌋ + ½)·2⁻²⁴, t = ⌊b/2⁸⌋·2⁻²⁴.
        let u = each!(|i| _mm256_mul_ps(
            _mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(wa[i], 8)), ps(0.5)),
            ps(INV_2_24)
        ));
        let t = each!(|i| _mm256_mul_ps(
            _mm256_cvtepi32_ps(_mm256_srli_epi32(wb[i], 8)),
            ps(INV_2_24)
        ));
        // ln u (super::ln_unit).
        let bits = each!(|i| _mm256_castps_si256(u[i]));
        let m = each!(|i| _mm256_castsi256_ps(_mm256_or_si256(
            _mm256_and_si256(bits[i], _mm256_set1_epi32(0x007f_ffff)),
            _mm256_set1_epi32(0x3f00_0000)
        )));
        let small =
            each!(|i| _mm256_cmp_ps::<_CMP_LT_OQ>(m[i], ps(std::f32::consts::FRAC_1_SQRT_2)));
        // e = (bits >> 23) − 126 − [small], in integers (exact; the mask is −1 where small).
        let e = each!(|i| _mm256_cvtepi32_ps(_mm256_add_epi32(
            _mm256_sub_epi32(_mm256_srli_epi32(bits[i], 23), _mm256_set1_epi32(126)),
            _mm256_castps_si256(small[i])
        )));
        // x = (m + m) − 1 where small, (m + 0) − 1 = m − 1 otherwise.
        let x =
            each!(|i| _mm256_sub_ps(_mm256_add_ps(m[i], _mm256_and_ps(small[i], m[i])), ps(1.0)));
        let z = each!(|i| _mm256_mul_ps(x[i], x[i]));
        let mut y = [ps(7.037_683_6e-2); CHAINS];
        for c in [
            -1.151_461_0e-1,
            1.167_699_9e-1,
            -1.242_014_1e-1,
            1.424_932_3e-1,
            -1.666_805_8e-1,
            2.000_071_5e-1,
            -2.499_999_4e-1,
            3.333_333_1e-1,
        ] {
            // y·x − c₊ is y·x + (−c₊) exactly.
            y = each!(|i| _mm256_add_ps(_mm256_mul_ps(y[i], x[i]), ps(c)));
        }
        let y = each!(|i| _mm256_mul_ps(_mm256_mul_ps(y[i], x[i]), z[i]));
        let y = each!(|i| _mm256_add_ps(y[i], _mm256_mul_ps(e[i], ps(-2.121_944_4e-4))));
        let y = each!(|i| _mm256_add_ps(y[i], _mm256_mul_ps(z[i], ps(-0.5))));
        let ln = each!(|i| _mm256_add_ps(
            _mm256_add_ps(x[i], y[i]),
            _mm256_mul_ps(e[i], ps(0.693_359_4))
        ));
        let r = each!(|i| _mm256_sqrt_ps(_mm256_mul_ps(ln[i], ps(-2.0))));
        // cos 2πt, sin 2πt (super::cos_sin_turn).
        let big = each!(|i| _mm256_add_ps(_mm256_mul_ps(t[i], ps(4.0)), ps(ROUND)));
        let q = each!(|i| _mm256_castps_si256(big[i]));
        let a = each!(|i| _mm256_mul_ps(
            _mm256_sub_ps(
                t[i],
                _mm256_mul_ps(_mm256_sub_ps(big[i], ps(ROUND)), ps(0.25))
            ),
            ps(std::f32::consts::TAU)
        ));
        let a2 = each!(|i| _mm256_mul_ps(a[i], a[i]));
        let ps_ = each!(|i| _mm256_add_ps(
            _mm256_mul_ps(
                _mm256_add_ps(_mm256_mul_ps(a2[i], ps(-1.951_529_6e-4)), ps(8.332_161e-3)),
                a2[i]
            ),
            ps(-1.666_665_5e-1)
        ));
        let s = each!(|i| _mm256_add_ps(a[i], _mm256_mul_ps(_mm256_mul_ps(a[i], a2[i]), ps_[i])));
        let pc = each!(|i| _mm256_add_ps(
            _mm256_mul_ps(
                _mm256_add_ps(
                    _mm256_mul_ps(a2[i], ps(2.443_315_7e-5)),
                    ps(-1.388_731_6e-3)
                ),
                a2[i]
            ),
            ps(4.166_664_6e-2)
        ));
        let c = each!(|i| _mm256_add_ps(
            _mm256_sub_ps(ps(1.0), _mm256_mul_ps(a2[i], ps(0.5))),
            _mm256_mul_ps(_mm256_mul_ps(a2[i], a2[i]), pc[i])
        ));
        // Odd quadrant: swap (blendv looks at bit 31, i.e. bit 0 of q shifted up).
        let odd = each!(|i| _mm256_castsi256_ps(_mm256_slli_epi32(q[i], 31)));
        let c2 = each!(|i| _mm256_blendv_ps(c[i], s[i], odd[i]));
        let s2 = each!(|i| _mm256_blendv_ps(s[i], c[i], odd[i]));
        // Signs: −c where bit 1 of q + 1 is set, −s where bit 1 of q is (negation = sign flip).
        let sign = _mm256_set1_epi32(i32::MIN);
        let cs = each!(|i| _mm256_castsi256_ps(_mm256_and_si256(
            _mm256_slli_epi32(_mm256_add_epi32(q[i], _mm256_set1_epi32(1)), 30),
            sign
        )));
        let ss =
            each!(|i| _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(q[i], 30), sign)));
        let outc = each!(|i| _mm256_mul_ps(r[i], _mm256_xor_ps(c2[i], cs[i])));
        let outs = each!(|i| _mm256_mul_ps(r[i], _mm256_xor_ps(s2[i], ss[i])));
        if j + STEP <= n {
            for i in 0..CHAINS {
                // SAFETY: j + 8i + 8 ≤ n ≤ lo.len(), hi.len().
                unsafe {
                    _mm256_storeu_ps(lo.as_mut_ptr().add(j + 8 * i), outc[i]);
                    _mm256_storeu_ps(hi.as_mut_ptr().add(j + 8 * i), outs[i]);
                }
            }
        } else {
            let (mut bc, mut bs) = ([0f32; STEP], [0f32; STEP]);
            for i in 0..CHAINS {
                // SAFETY: 8i + 8 ≤ STEP.
                unsafe {
                    _mm256_storeu_ps(bc.as_mut_ptr().add(8 * i), outc[i]);
                    _mm256_storeu_ps(bs.as_mut_ptr().add(8 * i), outs[i]);
                }
            }
            lo[j..n].copy_from_slice(&bc[..n - j]);
            hi[j..n].copy_from_slice(&bs[..n - j]);
        }
        j += STEP;
    }
}
