//! Explicit, seedable randomness.
//!
//! Every random draw in the crate comes from a [`Prng`] (ChaCha8) that the caller seeds. Work that
//! runs in parallel (importance samples, Parle replicas) draws from *streams*: generator `s` of
//! seed `k` is ChaCha8 keyed by `k` on stream `s`, so each sample's or replica's numbers depend
//! only on (seed, index) and not on which thread ran it or in what order. That is what makes
//! results bit-identical for 1 or many threads.

use crate::Real;
use rand::{RngCore, SeedableRng};

mod normal;
pub(crate) use normal::fill_f32;

/// The crate's pseudo-random generator (ChaCha with 8 rounds; serializable for checkpoints).
pub type Prng = rand_chacha::ChaCha8Rng;

/// A generator seeded from a `u64`.
pub fn seeded(seed: u64) -> Prng {
    Prng::seed_from_u64(seed)
}

/// Independent stream `stream` of the generator keyed by `seed` (per-sample / per-replica
/// randomness that does not depend on scheduling).
pub fn stream(seed: u64, stream: u64) -> Prng {
    let mut r = Prng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Draws a fresh key from `rng` for a family of streams (one family per step).
pub fn fork_key(rng: &mut Prng) -> u64 {
    rng.next_u64()
}

/// Fills `out` with independent standard normal variates N(0, 1) from `rng`: the noise of every
/// Langevin step (000 Alg. 3, 004 Alg. 1) and every Gaussian sample (000 Alg. 4 and 5).
///
/// `f32` uses a vectorized Box–Muller transform of ChaCha8 output (see the `normal` module's
/// docs: ≈ 1 ns per variate instead of ≈ 6 ns); `f64` draws `rand_distr`'s ziggurat one at a
/// time. Either way the result depends only on the generator's state and `out.len()`.
pub fn fill_standard_normal<T: Real>(rng: &mut Prng, out: &mut [T]) {
    T::fill_standard_normal(rng, out)
}
