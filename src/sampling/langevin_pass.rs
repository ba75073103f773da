//! The one kernel of the Langevin transition: a fused pass over a block of parameters that checks
//! ∇f, takes the step, updates the running mean and (in displacement form) the position, each
//! element loaded once (the pass is memory-bound, and Parle's replicas share the cache).

use crate::kernels::{self, NOISE_BLOCK, NOISE_CHUNK};
use crate::Real;
use multiversion::multiversion;

/// The constants of one Langevin step, for every element.
#[derive(Clone, Copy, Debug)]
pub(super) struct StepConstants<T> {
    /// Drift factor h of y ← y − h·∇U(y).
    pub h: T,
    /// 1/τ (0 for τ = ∞).
    pub inv_tau: T,
    /// Noise standard deviation σ.
    pub sigma: T,
    /// The running mean m ← p·m + q·v (p = 1, q = weight: the weighted sum of 000 Alg. 3; p = 1,
    /// q = 0: burn-in; p = 1 − a, q = a: 004's exponential average).
    pub p: T,
    /// See `p`.
    pub q: T,
    /// Whether noise is drawn at all (σ > 0).
    pub noisy: bool,
}

/// Which form the chain is kept in, and whether this is the displacement form's first step (d₀
/// and μ₀ are then +0 constants, not read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    Position,
    DisplacementFirst,
    Displacement,
}

/// Where the noise of a block comes from: the whole step's buffer, drawn beside the gradient, or
/// the block's own stream, drawn here a chunk at a time while it is in L1 (the same variates).
// A generator on the stack per block: boxing it would allocate in the inner loop.
#[allow(clippy::large_enum_variant)]
pub(super) enum Noise<'a, T> {
    None,
    Buffer(&'a [T]),
    Stream(crate::rng::Prng),
}

/// One Langevin step over one block. `state` is y (position form) or d = y − c (displacement
/// form), `y` the position to write in displacement form (None on the loop's last step, which
/// needs no next position), `c` the proximal centre. Returns whether every g was finite (the
/// block is garbage if not; the caller discards the step).
#[allow(clippy::too_many_arguments)]
pub(super) fn block<T: Real>(
    form: Form,
    state: &mut [T],
    mean: &mut [T],
    y: Option<&mut [T]>,
    g: &[T],
    c: &[T],
    noise: Noise<'_, T>,
    k: StepConstants<T>,
) -> bool {
    match noise {
        Noise::None => pass(form, state, mean, y, g, c, None, k),
        Noise::Buffer(xi) => pass(form, state, mean, y, g, c, Some(xi), k),
        Noise::Stream(mut stream) => {
            let mut xi = [T::zero(); NOISE_CHUNK];
            let mut y = y;
            let mut ok = true;
            for at in (0..state.len()).step_by(NOISE_CHUNK) {
                let end = (at + NOISE_CHUNK).min(state.len());
                let xi = &mut xi[..end - at];
                T::fill_standard_normal(&mut stream, xi);
                // Only the first chunk of a block is a displacement form's "first" block part:
                // every chunk of the first step is first (d₀ = μ₀ = 0 everywhere).
                ok &= pass(
                    form,
                    &mut state[at..end],
                    &mut mean[at..end],
                    y.as_mut().map(|y| &mut y[at..end]),
                    &g[at..end],
                    &c[at..end],
                    Some(xi),
                    k,
                );
            }
            ok
        }
    }
}

/// The noise stream of block `b` of step `pass` under `key`: the stream that
/// [`kernels::fill_noise`] uses for that block.
pub(super) fn block_noise(key: u64, pass: u64, offset: usize) -> crate::rng::Prng {
    kernels::block_stream(key, pass, offset / NOISE_BLOCK)
}

/// [`block`] on plain slices, one loop per case so that each vectorizes without unused streams.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
#[allow(clippy::too_many_arguments)]
fn pass<T: Real>(
    form: Form,
    state: &mut [T],
    mean: &mut [T],
    y: Option<&mut [T]>,
    g: &[T],
    c: &[T],
    xi: Option<&[T]>,
    k: StepConstants<T>,
) -> bool {
    let n = state.len();
    let (mean, g, c) = (&mut mean[..n], &g[..n], &c[..n]);
    let y = y.map(|y| &mut y[..n]);
    let xi = xi.map(|xi| &xi[..n]);
    let zero = |_: usize| T::zero();
    match (form, y, xi) {
        // 000 Alg. 3 as printed: the chain is y, and σξ is always added (+0 without noise).
        (Form::Position, _, Some(xi)) => position(state, mean, g, c, k, |i| xi[i]),
        (Form::Position, _, None) => position(state, mean, g, c, k, zero),
        (Form::DisplacementFirst, Some(y), Some(xi)) => {
            displacement::<T, true>(state, mean, g, c, k, |i| xi[i], |i, v| y[i] = v)
        }
        (Form::DisplacementFirst, Some(y), None) => {
            displacement::<T, true>(state, mean, g, c, k, zero, |i, v| y[i] = v)
        }
        (Form::DisplacementFirst, None, Some(xi)) => {
            displacement::<T, true>(state, mean, g, c, k, |i| xi[i], |_, _| {})
        }
        (Form::DisplacementFirst, None, None) => {
            displacement::<T, true>(state, mean, g, c, k, zero, |_, _| {})
        }
        (Form::Displacement, Some(y), Some(xi)) => {
            displacement::<T, false>(state, mean, g, c, k, |i| xi[i], |i, v| y[i] = v)
        }
        (Form::Displacement, Some(y), None) => {
            displacement::<T, false>(state, mean, g, c, k, zero, |i, v| y[i] = v)
        }
        (Form::Displacement, None, Some(xi)) => {
            displacement::<T, false>(state, mean, g, c, k, |i| xi[i], |_, _| {})
        }
        (Form::Displacement, None, None) => {
            displacement::<T, false>(state, mean, g, c, k, zero, |_, _| {})
        }
    }
}

/// Position form: y ← y − h·(∇f(y) − (c − y)/τ) + σξ, m ← p·m + q·y.
#[inline(always)]
fn position<T: Real>(
    y: &mut [T],
    mean: &mut [T],
    g: &[T],
    c: &[T],
    k: StepConstants<T>,
    xi: impl Fn(usize) -> T,
) -> bool {
    let mut ok = true;
    for i in 0..y.len() {
        ok &= g[i].is_finite();
        let v = y[i];
        let v = v - k.h * (g[i] - (c[i] - v) * k.inv_tau) + k.sigma * xi(i);
        y[i] = v;
        mean[i] = k.p * mean[i] + k.q * v;
    }
    ok
}

/// Displacement form: d ← d − h·(∇f(y) + d/τ) [+ σξ], m ← p·m + q·d, y ← c + d. With `FIRST`,
/// d₀ = m₀ = +0 are constants (not read).
#[inline(always)]
fn displacement<T: Real, const FIRST: bool>(
    d: &mut [T],
    mean: &mut [T],
    g: &[T],
    c: &[T],
    k: StepConstants<T>,
    xi: impl Fn(usize) -> T,
    mut store_y: impl FnMut(usize, T),
) -> bool {
    let mut ok = true;
    for i in 0..d.len() {
        ok &= g[i].is_finite();
        let (di, mi) = if FIRST {
            (T::zero(), T::zero())
        } else {
            (d[i], mean[i])
        };
        let mut v = di - k.h * (g[i] + di * k.inv_tau);
        if k.noisy {
            v += k.sigma * xi(i);
        }
        d[i] = v;
        mean[i] = k.p * mi + k.q * v;
        store_y(i, c[i] + v);
    }
    ok
}
