//! A handle on the crate's Gaussian noise streams ([`NoiseStream`]), shared by the samplers that
//! draw noise and the objectives that draw it their own way (less of it, in law).

use crate::rng::Prng;
use crate::Real;

/// The Gaussian noise ξ ~ N(0, I) of one noise pass: the pass `pass` under the key `key` of the
/// crate's counter-based streams. A sampler hands one to an objective's fast path
/// ([`MeanGradient::gaussian_mean_gradient`](super::MeanGradient::gaussian_mean_gradient),
/// [`GaussianWeightedMean`](super::GaussianWeightedMean)) to say which randomness the estimate
/// may use; both sides draw through the handle, so a whole draw and a draw in law use the same
/// streams and the result never depends on the thread count.
///
/// - ξ is cut into blocks of [`NoiseStream::BLOCK`] entries; block b is drawn in order from
///   [`NoiseStream::block`]`(b)`, so blocks can be drawn on any thread, in any order
///   ([`NoiseStream::fill`] draws all of them).
/// - The i-th point, step or sample drawn after this one has the noise of
///   [`NoiseStream::after`]`(i)`.
/// - A weighted mean over whole samples draws sample j from one stream,
///   [`NoiseStream::sample`]`(j)`, and keeps [`NoiseStream::auxiliary`] for any other draw.
///
/// ```
/// use wide_valleys::objective::NoiseStream;
/// let noise = NoiseStream::new(7, 3);
/// let mut xi = vec![0.0f64; 2 * NoiseStream::BLOCK];
/// noise.fill(&mut xi);
/// let mut second = vec![0.0f64; NoiseStream::BLOCK];
/// wide_valleys::Real::fill_standard_normal(&mut noise.block(1), &mut second);
/// assert_eq!(&xi[NoiseStream::BLOCK..], &second[..]);
/// assert_eq!(noise.after(2), NoiseStream::new(7, 5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NoiseStream {
    key: u64,
    pass: u64,
}

impl NoiseStream {
    /// Entries per block of noise: block b holds entries b·`BLOCK` .. (b + 1)·`BLOCK`.
    pub const BLOCK: usize = 16_384;

    /// The noise of pass `pass` under `key`.
    pub fn new(key: u64, pass: u64) -> Self {
        Self { key, pass }
    }

    /// The key.
    pub fn key(self) -> u64 {
        self.key
    }

    /// The pass.
    pub fn pass(self) -> u64 {
        self.pass
    }

    /// The noise of the i-th pass after this one (pass + i under the same key): the i-th point of
    /// a Monte Carlo mean, or the i-th step of a chain.
    pub fn after(self, i: u64) -> Self {
        Self {
            pass: self.pass + i,
            ..self
        }
    }

    /// The generator of block `b` of this pass: the variates of entries b·[`Self::BLOCK`] ..,
    /// in order.
    pub fn block(self, b: usize) -> Prng {
        crate::kernels::block_stream(self.key, self.pass, b)
    }

    /// Fills `xi` with this pass's variates (block by block, in parallel over blocks).
    pub fn fill<T: Real>(self, xi: &mut [T]) {
        crate::kernels::fill_noise(self.key, self.pass, xi)
    }

    /// The generator of whole sample `j` of a weighted mean drawn from this handle (all of its
    /// entries in order from one stream; the same stream as [`Self::block`]`(j)`).
    pub fn sample(self, j: usize) -> Prng {
        self.block(j)
    }

    /// A pass under the same key for the draws of a weighted mean other than its samples': no
    /// [`Self::sample`]`(j)` of this handle reaches its streams (for j < 2⁶³ and pass < 2²⁴).
    pub fn auxiliary(self) -> Self {
        self.after(AUXILIARY)
    }
}

/// How far [`NoiseStream::auxiliary`] lies beyond the samples: its block streams have ids ≥ 2⁶³.
const AUXILIARY: u64 = 1 << 39;
