//! Seeded minibatches (000 §6.2: minibatch 20) and disjoint shards of the training set for
//! Parle's replicas when the data is split between them (003 §5.5).

use crate::rng::{self, Prng};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::Rng;

/// Draws `batch_size` distinct elements of `set`, uniformly without replacement, into `out`
/// (cleared first; its allocation is reused).
///
/// Robert Floyd's algorithm: `batch_size` random draws whatever `set.len()` is, and no scratch
/// memory, so a minibatch of 20 from 60,000 examples costs 20 draws and no allocation. The
/// membership test is a linear scan of the batch so far (O(b²) comparisons, negligible next to
/// the forward pass of b examples). Deterministic given the generator's state. If `batch_size >=
/// set.len()`, `out` receives all of `set`.
pub fn sample_without_replacement(
    rng: &mut Prng,
    set: &[usize],
    batch_size: usize,
    out: &mut Vec<usize>,
) {
    out.clear();
    let n = set.len();
    if batch_size >= n {
        out.extend_from_slice(set);
        return;
    }
    // Floyd: for j = n-b .. n-1, draw t ∈ [0, j]; take t unless already taken, then take j.
    // Positions into `set` first, mapped to elements at the end.
    for j in (n - batch_size)..n {
        let t = rng.random_range(0..=j);
        if out.contains(&t) {
            out.push(j);
        } else {
            out.push(t);
        }
    }
    for p in out.iter_mut() {
        *p = set[*p];
    }
}

/// Splits the examples `0..n` into `n_shards` disjoint index sets that together cover all of them
/// (003 §5.5: each Parle replica sees only its own part of the data).
///
/// The examples are shuffled by a generator seeded with `seed`, then cut into contiguous parts
/// whose sizes differ by at most one; each shard is returned sorted (memory-order gathering).
///
/// Errors: [`Error::InvalidHyperParameter`] if `n_shards` is 0 or larger than `n`.
pub fn shards(n: usize, n_shards: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    crate::error::check::count("n_shards", n_shards)?;
    if n_shards > n {
        return Err(Error::InvalidHyperParameter {
            name: "n_shards",
            value: n_shards as f64,
            reason: "must be at most the number of examples",
        });
    }
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(&mut rng::seeded(seed));
    let base = n / n_shards;
    let extra = n % n_shards;
    let mut out = Vec::with_capacity(n_shards);
    let mut start = 0;
    for s in 0..n_shards {
        let len = base + usize::from(s < extra);
        let mut shard = all[start..start + len].to_vec();
        shard.sort_unstable();
        out.push(shard);
        start += len;
    }
    Ok(out)
}
