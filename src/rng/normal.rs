//! Fast, seedable standard normal variates in bulk for `f32` (Box–Muller on 24-bit uniforms).
//!
//! SGLD and importance sampling (000 Alg. 3 and 4) and Robbins–Monro (Alg. 5) need about 1.6·10⁸
//! Gaussian variates per update at d = 159,010 (issue 6): drawing them one at a time through
//! `rand_distr`'s ziggurat (≈ 5–7 ns each here) costs more than the network's gradients. This
//! module turns a block of ChaCha8 output into variates with a branch-free Box–Muller transform:
//! hand-written AVX2 with two interleaved 8-lane chains where the CPU has AVX2 (the `avx2`
//! submodule; the compiler's single-chain vectorization waited on the polynomials' latency), the
//! compiler-vectorized loop of [`pair`] otherwise. Every version performs the same IEEE operations
//! in the same order (no FMA), so results are bit-identical on every x86-64 CPU. With AVX2 the
//! ChaCha8 words are computed here too, eight blocks at a time (the `chacha` submodule), and the
//! generator is then moved past them: the same words as `Rng::fill` would give, faster.
//!
//! For a pair of words (a, b): u = (⌊a/2⁸⌋ + ½)·2⁻²⁴ ∈ (0, 1), t = ⌊b/2⁸⌋·2⁻²⁴ ∈ [0, 1),
//! r = √(−2 ln u), and the two variates r·cos 2πt, r·sin 2πt. `ln` and `sin`/`cos` are Cephes'
//! single-precision minimax polynomials (relative error of ln < 1.2·10⁻⁷, absolute error of
//! sin/cos < 1.1·10⁻⁷, checked against `f64` in the tests). The 24-bit uniform bounds |z| by
//! √(2·25·ln 2) ≈ 5.89: a standard normal exceeds that with probability 4·10⁻⁹, which no
//! estimator of the crate can see at its sample sizes.

use multiversion::multiversion;
use rand::Rng;

/// Variates produced per block of ChaCha output (two words per pair).
const PAIRS: usize = 256;
const INV_2_24: f32 = 1.0 / 16_777_216.0;
/// 1.5·2²³: adding it rounds a float in [0, 2²²) to the nearest integer in its low mantissa bits.
const ROUND: f32 = 12_582_912.0;

/// ln u for u ∈ (0, 1), Cephes `logf`: u = m·2ᵉ with m ∈ [√½, √2), ln u = e ln 2 + ln m, ln m by a
/// degree-9 polynomial in m − 1; ln 2 split in two parts so that e·ln 2 is exact.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' coefficients, as published
fn ln_unit(u: f32) -> f32 {
    let bits = u.to_bits();
    let mut e = ((bits >> 23) as i32 - 126) as f32;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // m ∈ [0.5, 1)
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    let x = if small { m + m - 1.0 } else { m - 1.0 };
    if small {
        e -= 1.0;
    }
    let z = x * x;
    let mut y = 7.037_683_6e-2_f32;
    y = y * x - 1.151_461_0e-1;
    y = y * x + 1.167_699_9e-1;
    y = y * x - 1.242_014_1e-1;
    y = y * x + 1.424_932_3e-1;
    y = y * x - 1.666_805_8e-1;
    y = y * x + 2.000_071_5e-1;
    y = y * x - 2.499_999_4e-1;
    y = y * x + 3.333_333_1e-1;
    y = y * x * z;
    y += -2.121_944_4e-4 * e;
    y += -0.5 * z;
    (x + y) + 0.693_359_4 * e
}

/// (cos 2πt, sin 2πt) for t ∈ [0, 1): quarter-turn reduction q = round(4t), a = 2π(t − q/4) ∈
/// [−π/4, π/4] (exact: t is a multiple of 2⁻²⁴), Cephes `sinf`/`cosf` polynomials, then the
/// quadrant's swap and signs as selects (no branches, no float→int conversion).
#[inline(always)]
fn cos_sin_turn(t: f32) -> (f32, f32) {
    let big = t * 4.0 + ROUND;
    let q = big.to_bits() & 3;
    let a = (t - (big - ROUND) * 0.25) * std::f32::consts::TAU;
    let a2 = a * a;
    let s = a + a * a2 * (-1.666_665_5e-1 + a2 * (8.332_161e-3 + a2 * -1.951_529_6e-4));
    let c =
        1.0 - 0.5 * a2 + a2 * a2 * (4.166_664_6e-2 + a2 * (-1.388_731_6e-3 + a2 * 2.443_315_7e-5));
    let (c, s) = if q & 1 == 1 { (s, c) } else { (c, s) };
    let c = if (q + 1) & 2 != 0 { -c } else { c };
    let s = if q & 2 != 0 { -s } else { s };
    (c, s)
}

/// One Box–Muller pair from two random words.
#[inline(always)]
fn pair(a: u32, b: u32) -> (f32, f32) {
    let u = (((a >> 8) as i32) as f32 + 0.5) * INV_2_24;
    let t = ((b >> 8) as i32) as f32 * INV_2_24;
    let r = (-2.0 * ln_unit(u)).sqrt();
    let (c, s) = cos_sin_turn(t);
    (r * c, r * s)
}

/// Writes the cosine variates to `lo` and the sine ones to `hi` (`lo.len() == hi.len() ≤ PAIRS`):
/// hand-interleaved AVX2 where the CPU has it, the compiler-vectorized loop otherwise. Both
/// perform the same IEEE operations in the same order as [`pair`], so the bits never depend on
/// the CPU.
fn transform(words: &[u32; 2 * PAIRS], lo: &mut [f32], hi: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available (checked just above).
        unsafe { avx2::transform(words, lo, hi) };
        return;
    }
    transform_portable(words, lo, hi)
}

/// [`transform`] for CPUs without AVX2: [`pair`] in a loop the compiler vectorizes.
#[multiversion(targets("x86_64+avx"))]
fn transform_portable(words: &[u32; 2 * PAIRS], lo: &mut [f32], hi: &mut [f32]) {
    let (a, b) = words.split_at(PAIRS);
    for (((c, s), &a), &b) in lo.iter_mut().zip(hi.iter_mut()).zip(a).zip(b) {
        (*c, *s) = pair(a, b);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod chacha;

/// Fills `out` with independent N(0, 1) variates drawn from `rng` (the words consumed depend only
/// on `out.len()`: ⌈len/512⌉ blocks of 512 words, each block the next 512 words of the stream).
///
/// Where the CPU has AVX2 most words are computed here, eight ChaCha blocks at a time
/// ([`chacha::Words`]), instead of through `rand_chacha`'s four-block buffer: the same words, the
/// same variates and the same generator state afterwards as [`fill_via_rng`] (tested).
pub(crate) fn fill_f32(rng: &mut crate::rng::Prng, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(mut words) =
        chacha::Words::new(rng, (out.len().div_ceil(2 * PAIRS) * 2 * PAIRS) as u128)
    {
        fill_from(out, |w| words.next(w));
        return;
    }
    fill_via_rng(rng, out)
}

/// [`fill_f32`] with the words drawn through `Rng::fill` (CPUs without AVX2; the tests' reference).
fn fill_via_rng<R: Rng + ?Sized>(rng: &mut R, out: &mut [f32]) {
    fill_from(out, |words| rng.fill(&mut words[..]));
}

/// The Box–Muller blocks of [`fill_f32`], with `next_words` supplying each block's 512 words.
#[inline(always)]
fn fill_from(out: &mut [f32], mut next_words: impl FnMut(&mut [u32; 2 * PAIRS])) {
    let mut words = [0u32; 2 * PAIRS];
    for block in out.chunks_mut(2 * PAIRS) {
        next_words(&mut words);
        let half = block.len() / 2;
        let (lo, rest) = block.split_at_mut(half);
        let (hi, odd) = rest.split_at_mut(half);
        transform(&words, lo, hi);
        if let Some(last) = odd.first_mut() {
            *last = pair(words[half], words[PAIRS + half]).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_matches_f64_over_all_24_bit_uniforms() {
        let mut worst = 0f64;
        for k in (0..1u32 << 24).step_by(7) {
            let u = (k as f32 + 0.5) * INV_2_24;
            let exact = (u as f64).ln();
            worst = worst.max(((ln_unit(u) as f64 - exact) / exact).abs());
        }
        assert!(worst < 1.5e-7, "max relative error of ln: {worst:e}");
    }

    #[test]
    fn cos_sin_match_f64_over_the_turn() {
        let mut worst = 0f64;
        for k in (0..1u32 << 24).step_by(5) {
            let t = k as f32 * INV_2_24;
            let (c, s) = cos_sin_turn(t);
            let th = t as f64 * std::f64::consts::TAU;
            worst = worst.max((c as f64 - th.cos()).abs().max((s as f64 - th.sin()).abs()));
        }
        assert!(worst < 1.5e-7, "max absolute error of cos/sin: {worst:e}");
    }

    #[test]
    fn extremes_stay_finite_and_bounded() {
        for (a, b) in [(0, 0), (u32::MAX, u32::MAX), (0, u32::MAX), (255, 1 << 30)] {
            let (c, s) = pair(a, b);
            assert!(c.is_finite() && s.is_finite());
            assert!(c.abs() <= 5.9 && s.abs() <= 5.9, "{c} {s}");
        }
        // The smallest uniform gives the largest radius √(−2 ln 2⁻²⁵).
        let (c, _) = pair(0, 0);
        assert!((c as f64 - (50.0 * std::f64::consts::LN_2).sqrt()).abs() < 1e-5);
    }

    #[test]
    fn lanes_are_bit_identical_to_the_scalar_pair() {
        use rand::Rng;
        let mut r = crate::rng::seeded(3);
        let mut words = [0u32; 2 * PAIRS];
        for round in 0..64 {
            r.fill(&mut words[..]);
            if round == 0 {
                // The extremes of both words and the quadrant boundaries of t.
                words[..8].copy_from_slice(&[0, 255, 256, u32::MAX, 1 << 31, 1 << 30, 3 << 30, 1]);
                words[PAIRS..PAIRS + 8].copy_from_slice(&[
                    0,
                    1 << 29,
                    1 << 30,
                    3 << 29,
                    u32::MAX,
                    255,
                    1 << 31,
                    7 << 29,
                ]);
            }
            let (mut lo, mut hi) = ([0f32; PAIRS], [0f32; PAIRS]);
            transform(&words, &mut lo, &mut hi);
            let (mut plo, mut phi) = ([0f32; PAIRS], [0f32; PAIRS]);
            transform_portable(&words, &mut plo, &mut phi);
            for j in 0..PAIRS {
                let (c, s) = pair(words[j], words[PAIRS + j]);
                assert_eq!(
                    (plo[j].to_bits(), phi[j].to_bits()),
                    (c.to_bits(), s.to_bits())
                );
                assert_eq!(
                    (lo[j].to_bits(), hi[j].to_bits()),
                    (c.to_bits(), s.to_bits()),
                    "pair {j}"
                );
            }
        }
    }

    #[test]
    fn own_chacha_gives_the_generators_words_and_state() {
        use rand::RngCore;
        for (lead, len) in [
            (0usize, 4096usize),
            (0, 5000),
            (3, 1),
            (5, 10250),
            (16, 700),
            (31, 20480),
        ] {
            let mut a = crate::rng::stream(11, 2);
            for _ in 0..lead {
                a.next_u32();
            }
            let mut b = a.clone();
            let (mut va, mut vb) = (vec![0f32; len], vec![0f32; len]);
            fill_f32(&mut a, &mut va);
            fill_via_rng(&mut b, &mut vb);
            assert!(
                va.iter().zip(&vb).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{lead} {len}"
            );
            assert_eq!(a, b, "generator state after {lead} + {len}");
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn own_chacha_in_chunks_and_across_the_counter_wrap() {
        for start in [0u128, (1 << 68) - 16 * 40 + 3] {
            let mut a = crate::rng::stream(4, 9);
            a.set_word_pos(start);
            let mut b = a.clone();
            for len in [512usize, 512, 300, 1024, 17, 16384, 512, 2000] {
                let (mut va, mut vb) = (vec![0f32; len], vec![0f32; len]);
                fill_f32(&mut a, &mut va);
                fill_via_rng(&mut b, &mut vb);
                assert!(
                    va.iter().zip(&vb).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{start} {len}"
                );
                assert_eq!(a, b, "generator state after {len} from {start}");
            }
        }
    }

    /// The variates of the first implementation (one `transform` chain per pair), hashed: the
    /// faster code must give the same bits and consume the same words for every length.
    #[test]
    fn variates_are_unchanged() {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for seed in 0..3u64 {
            let mut r = crate::rng::stream(seed, 5);
            for len in [1usize, 7, 511, 512, 513, 1000, 16384, 100_003, 32, 33] {
                let mut v = vec![0f32; len];
                fill_f32(&mut r, &mut v);
                for x in v {
                    h = (h ^ x.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        assert_eq!(h, 0x9610_fa8f_cc22_98fd);
    }
}
