//! Explicit, seedable randomness.
//!
//! Every random draw in the crate comes from a [`Prng`] (ChaCha8) that the caller seeds. Work that
//! runs in parallel (importance samples, Parle replicas) draws from *streams*: generator `s` of
//! seed `k` is ChaCha8 keyed by `k` on stream `s`, so each sample's or replica's numbers depend
//! only on (seed, index) and not on which thread ran it or in what order. That is what makes
//! results bit-identical for 1 or many threads.

use rand::{RngCore, SeedableRng};

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
