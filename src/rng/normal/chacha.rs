//! ChaCha8 keystream, eight blocks at a time with AVX2 (one block per 32-bit lane), bit-identical
//! to `rand_chacha::ChaCha8Rng`'s output (checked by the tests).
//!
//! `rand_chacha` computes four blocks per call with two blocks per register, reshuffling the rows
//! between column and diagonal rounds; with one block per lane every quarter-round of a round is
//! independent of the others (more parallelism, no shuffles), and the words are put back in
//! stream order by two 8×8 transposes. [`Words`] serves [`super::fill_f32`]: most words from
//! here, both ends through the generator, which ends exactly where drawing every word through
//! `Rng::fill` would have left it.

use crate::rng::Prng;
use rand::Rng;
use std::arch::x86_64::*;

/// "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Writes blocks `block .. block + 8` of the ChaCha8 keystream (key `key`, 64-bit block counter,
/// 64-bit stream `nonce`, as in `rand_chacha`) to `out` in stream order.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn blocks8(key: &[u32; 8], block: u64, nonce: u64, out: &mut [u32; 128]) {
    let splat = |w: u32| _mm256_set1_epi32(w as i32);
    let ctr: [u64; 8] = std::array::from_fn(|l| block.wrapping_add(l as u64));
    let lo = _mm256_setr_epi32(
        ctr[0] as i32,
        ctr[1] as i32,
        ctr[2] as i32,
        ctr[3] as i32,
        ctr[4] as i32,
        ctr[5] as i32,
        ctr[6] as i32,
        ctr[7] as i32,
    );
    let hi = _mm256_setr_epi32(
        (ctr[0] >> 32) as i32,
        (ctr[1] >> 32) as i32,
        (ctr[2] >> 32) as i32,
        (ctr[3] >> 32) as i32,
        (ctr[4] >> 32) as i32,
        (ctr[5] >> 32) as i32,
        (ctr[6] >> 32) as i32,
        (ctr[7] >> 32) as i32,
    );
    let init: [__m256i; 16] = [
        splat(SIGMA[0]),
        splat(SIGMA[1]),
        splat(SIGMA[2]),
        splat(SIGMA[3]),
        splat(key[0]),
        splat(key[1]),
        splat(key[2]),
        splat(key[3]),
        splat(key[4]),
        splat(key[5]),
        splat(key[6]),
        splat(key[7]),
        lo,
        hi,
        splat(nonce as u32),
        splat((nonce >> 32) as u32),
    ];
    let rot16 = _mm256_setr_epi8(
        2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
        14, 15, 12, 13,
    );
    let rot8 = _mm256_setr_epi8(
        3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10,
        15, 12, 13, 14,
    );
    let mut x = init;
    macro_rules! quarter {
        ($a:literal, $b:literal, $c:literal, $d:literal) => {
            x[$a] = _mm256_add_epi32(x[$a], x[$b]);
            x[$d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[$d], x[$a]), rot16);
            x[$c] = _mm256_add_epi32(x[$c], x[$d]);
            let t = _mm256_xor_si256(x[$b], x[$c]);
            x[$b] = _mm256_or_si256(_mm256_slli_epi32(t, 12), _mm256_srli_epi32(t, 20));
            x[$a] = _mm256_add_epi32(x[$a], x[$b]);
            x[$d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[$d], x[$a]), rot8);
            x[$c] = _mm256_add_epi32(x[$c], x[$d]);
            let t = _mm256_xor_si256(x[$b], x[$c]);
            x[$b] = _mm256_or_si256(_mm256_slli_epi32(t, 7), _mm256_srli_epi32(t, 25));
        };
    }
    for _ in 0..4 {
        quarter!(0, 4, 8, 12);
        quarter!(1, 5, 9, 13);
        quarter!(2, 6, 10, 14);
        quarter!(3, 7, 11, 15);
        quarter!(0, 5, 10, 15);
        quarter!(1, 6, 11, 12);
        quarter!(2, 7, 8, 13);
        quarter!(3, 4, 9, 14);
    }
    for i in 0..16 {
        x[i] = _mm256_add_epi32(x[i], init[i]);
    }
    // Row i holds word i of the eight blocks; transpose each half to get block l's words.
    for half in 0..2 {
        let r = &x[8 * half..8 * half + 8];
        let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
        let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
        let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
        let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
        let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
        let u0 = _mm256_unpacklo_epi64(t0, t2);
        let u1 = _mm256_unpackhi_epi64(t0, t2);
        let u2 = _mm256_unpacklo_epi64(t1, t3);
        let u3 = _mm256_unpackhi_epi64(t1, t3);
        let u4 = _mm256_unpacklo_epi64(t4, t6);
        let u5 = _mm256_unpackhi_epi64(t4, t6);
        let u6 = _mm256_unpacklo_epi64(t5, t7);
        let u7 = _mm256_unpackhi_epi64(t5, t7);
        let cols = [
            _mm256_permute2x128_si256::<0x20>(u0, u4),
            _mm256_permute2x128_si256::<0x20>(u1, u5),
            _mm256_permute2x128_si256::<0x20>(u2, u6),
            _mm256_permute2x128_si256::<0x20>(u3, u7),
            _mm256_permute2x128_si256::<0x31>(u0, u4),
            _mm256_permute2x128_si256::<0x31>(u1, u5),
            _mm256_permute2x128_si256::<0x31>(u2, u6),
            _mm256_permute2x128_si256::<0x31>(u3, u7),
        ];
        for (l, c) in cols.into_iter().enumerate() {
            // SAFETY: 16l + 8·half + 8 ≤ 128.
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(16 * l + 8 * half).cast(), c) };
        }
    }
}

/// The words of one [`super::fill_f32`] call, `total` words from the generator's position P: the
/// first 49–64 (up to a block boundary) and the last 1–128 through `Rng::fill`, everything between
/// computed here in groups of eight blocks. The generator's own four-block buffer then serves
/// both ends: after the previous call's tail it already holds the next words (a copy, no work),
/// and moving the generator to the tail (`set_word_pos`) refills it with exactly the words the
/// tail needs, so no word is computed twice and the generator ends at P + total, in the state
/// drawing all the words through `Rng::fill` would have left.
pub(super) struct Words<'a> {
    rng: &'a mut Prng,
    key: [u32; 8],
    stream: u64,
    /// Stream position of the next word to deliver.
    pos: u128,
    /// [mid.0, mid.1): computed here, a whole number of 128-word groups, mid.0 block-aligned.
    mid: (u128, u128),
    /// The group at `group_at`, for reads that straddle groups.
    group: [u32; 128],
    group_at: Option<u128>,
}

impl<'a> Words<'a> {
    /// The source of the next `total` words of `rng`, or `None` without AVX2 or when there is
    /// not one whole group between the ends (then `Rng::fill` alone is as fast).
    pub(super) fn new(rng: &'a mut Prng, total: u128) -> Option<Self> {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return None;
        }
        let start = rng.get_word_pos();
        let head = 64 - start % 16;
        // At least one word after the groups, so that the generator is moved once, to the tail.
        let groups = total.checked_sub(head + 1)? / 128;
        if groups == 0 {
            return None;
        }
        let seed = rng.get_seed();
        let key = std::array::from_fn(|i| {
            u32::from_le_bytes([
                seed[4 * i],
                seed[4 * i + 1],
                seed[4 * i + 2],
                seed[4 * i + 3],
            ])
        });
        let stream = rng.get_stream();
        let mid = (start + head, start + head + 128 * groups);
        Some(Words {
            rng,
            key,
            stream,
            pos: start,
            mid,
            group: [0; 128],
            group_at: None,
        })
    }

    /// Blocks at word position `at` (block-aligned) .. + 128 into `out`. Only [`Words::next`]
    /// calls it, and a `Words` exists only where AVX2 is available.
    #[inline(always)]
    fn compute(key: &[u32; 8], stream: u64, at: u128, out: &mut [u32; 128]) {
        // Positions are 68-bit (a 64-bit block counter that wraps, as in rand_chacha).
        // SAFETY: a `Words` exists only where AVX2 is available (checked in `new`).
        unsafe { blocks8(key, (at / 16) as u64, stream, out) }
    }

    /// Writes the next `out.len()` words of the stream to `out`.
    pub(super) fn next(&mut self, out: &mut [u32]) {
        let mut i = 0;
        while i < out.len() {
            let want = (out.len() - i) as u128;
            let k;
            if self.pos < self.mid.0 || self.pos >= self.mid.1 {
                if self.pos == self.mid.1 {
                    // The tail: move the generator past the words computed here.
                    self.rng.set_word_pos(self.mid.1);
                }
                k = if self.pos < self.mid.0 {
                    want.min(self.mid.0 - self.pos)
                } else {
                    want
                };
                self.rng.fill(&mut out[i..i + k as usize]);
            } else {
                let off = (self.pos - self.mid.0) % 128;
                let at = self.pos - off;
                if off == 0 && want >= 128 {
                    let dst: &mut [u32; 128] = (&mut out[i..i + 128]).try_into().unwrap();
                    Self::compute(&self.key, self.stream, at, dst);
                    k = 128;
                } else {
                    if self.group_at != Some(at) {
                        Self::compute(&self.key, self.stream, at, &mut self.group);
                        self.group_at = Some(at);
                    }
                    k = want.min(128 - off);
                    let off = off as usize;
                    out[i..i + k as usize].copy_from_slice(&self.group[off..off + k as usize]);
                }
            }
            i += k as usize;
            self.pos += k;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    #[test]
    fn matches_rand_chacha_including_the_counter_carry() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for (seed, stream, block) in [(1u64, 0u64, 0u64), (7, 5, 3), (9, u64::MAX, u64::MAX - 3)] {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            r.set_stream(stream);
            r.set_word_pos(block as u128 * 16);
            let mut expected = [0u32; 128];
            r.fill(&mut expected[..]);
            let seed_bytes = r.get_seed();
            let key: [u32; 8] = std::array::from_fn(|i| {
                u32::from_le_bytes(seed_bytes[4 * i..4 * i + 4].try_into().unwrap())
            });
            let mut got = [0u32; 128];
            // SAFETY: AVX2 checked above.
            unsafe { super::blocks8(&key, block, r.get_stream(), &mut got) };
            assert_eq!(got, expected, "seed {seed} stream {stream} block {block}");
        }
    }
}
