//! The vectorized inner loops shared by the samplers and optimizers (issue 6): one pass over the
//! d parameters each, on plain slices (no bounds checks, no nalgebra iterators), compiled for AVX2
//! and AVX-512 as well and chosen at run time by [`multiversion`]. Every version performs the same
//! IEEE operations in the same order (Rust never fuses a·b + c on its own), so results do not
//! depend on the CPU.

use crate::objective::Parallelism;
use crate::Real;
use multiversion::multiversion;

/// Elements per block of parameters when noise is drawn in parallel: each block has its own
/// random stream, so the result does not depend on how many threads share the blocks.
pub(crate) const NOISE_BLOCK: usize = crate::objective::NoiseStream::BLOCK;

/// Scratch noise drawn per pass inside a block (stack buffer, no allocation).
pub(crate) const NOISE_CHUNK: usize = 2048;

/// True when every entry is finite; scans in chunks of 1024 without early exit inside a chunk so
/// the comparison vectorizes (the old `iter().all` stopped the vectorizer).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn all_finite<T: Real>(v: &[T]) -> bool {
    v.chunks(1024)
        .all(|c| c.iter().fold(true, |ok, e| ok & e.is_finite()))
}

/// One Robbins–Monro iteration on a block (000 eq. 17): x^j ← x^j − a·(x^j − x_k + τ·ḡ), the
/// operations in that order. Returns whether every ḡ is finite.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn robbins_monro_step<T: Real>(xj: &mut [T], xk: &[T], g: &[T], tau: T, a: T) -> bool {
    let n = xj.len();
    let (xk, g) = (&xk[..n], &g[..n]);
    let mut ok = true;
    for i in 0..n {
        ok &= g[i].is_finite();
        let h = xj[i] - xk[i] + tau * g[i];
        xj[i] -= a * h;
    }
    ok
}

/// One SGD update on a block, keeping the old values: backup ← x, x ← x − lr·g (the same
/// rounding as nalgebra's `x.axpy(−lr, g, 1)`). Returns whether every new x is finite.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn sgd_step_keeping<T: Real>(x: &mut [T], backup: &mut [T], g: &[T], lr: T) -> bool {
    let n = x.len();
    let (backup, g) = (&mut backup[..n], &g[..n]);
    let mut ok = true;
    for i in 0..n {
        backup[i] = x[i];
        x[i] -= lr * g[i];
        ok &= x[i].is_finite();
    }
    ok
}

/// acc ← acc + a·y (the running weighted average of iterates or samples).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn axpy<T: Real>(acc: &mut [T], a: T, y: &[T]) {
    for (s, &v) in acc.iter_mut().zip(y) {
        *s += a * v;
    }
}

/// y ← x + s·ξ, overwriting the noise ξ held in `y` (a Gaussian sample around x).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn shift_scaled<T: Real>(y: &mut [T], x: &[T], s: T) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = xi + s * *yi;
    }
}

/// v ← c·v.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn scale<T: Real>(v: &mut [T], c: T) {
    for s in v.iter_mut() {
        *s *= c;
    }
}

/// The random stream of block `b` of noise pass `step` under `key` (see [`fill_noise`]).
pub(crate) fn block_stream(key: u64, step: u64, b: usize) -> crate::rng::Prng {
    crate::rng::stream(key, (step << 24) | b as u64)
}

/// Fills `noise` with N(0, 1) variates for pass `step` under `key`, in parallel over fixed blocks.
///
/// The vector is cut into blocks of [`NOISE_BLOCK`]; block b draws from
/// `rng::stream(key, step·2²⁴ + b)`. Each block's variates depend only on (key, step, b), so the
/// result is bit-identical for any number of threads, and called from inside a rayon task (next
/// to a gradient, see SGLD) the blocks are stolen by whichever thread is free.
pub(crate) fn fill_noise<T: Real>(key: u64, step: u64, noise: &mut [T]) {
    use rayon::prelude::*;
    if noise.len() <= NOISE_BLOCK {
        T::fill_standard_normal(&mut block_stream(key, step, 0), noise);
    } else {
        noise
            .par_chunks_mut(NOISE_BLOCK)
            .enumerate()
            .for_each(|(b, nb)| T::fill_standard_normal(&mut block_stream(key, step, b), nb));
    }
}

/// Runs `a` and `b` side by side on rayon when the parameter vector is long enough (d >
/// [`NOISE_BLOCK`]) to repay a fork (a few µs from outside the pool), one after the other
/// otherwise. The callers' two halves write disjoint buffers, so the order never matters.
///
/// `a` is given the hint for the calls it makes ([`beside_hint`]): side by side, the thread
/// running `b` is free for half of `a`'s large products once its own part is done
/// ([`Parallelism::IdleThreadBeside`]), unless `outer` (what the caller was told, e.g. by
/// [`Cost::parallelism`](crate::objective::Cost::parallelism)) says that every thread is busy.
pub(crate) fn beside<A, B>(outer: Parallelism, a: A, b: B, d: usize)
where
    A: FnOnce(Parallelism) + Send,
    B: FnOnce() + Send,
{
    let par = beside_hint(outer, d);
    if d > NOISE_BLOCK {
        rayon::join(|| a(par), b);
    } else {
        a(par);
        b();
    }
}

/// The hint [`beside`] gives its first task: [`Parallelism::IdleThreadBeside`] when the two run
/// side by side (d > [`NOISE_BLOCK`]) and `outer` is not [`Parallelism::AllThreadsBusy`],
/// `outer` otherwise. The hint changes speed only: a split product is bit-identical to the
/// unsplit one (nn::linalg).
pub(crate) fn beside_hint(outer: Parallelism, d: usize) -> Parallelism {
    if d > NOISE_BLOCK && !outer.all_threads_busy() {
        Parallelism::IdleThreadBeside
    } else {
        outer
    }
}

/// Whether d variates drawn beside a gradient ([`beside`]) can run on another thread: false for
/// d ≤ [`NOISE_BLOCK`] (`beside` runs them after the gradient), when `outer` says every thread is
/// busy ([`Parallelism::AllThreadsBusy`], Parle's replica workers) and on a 1-thread pool. Then
/// the caller had better draw them inside the pass that consumes them, chunk by chunk in L1, than
/// write and re-read a d-long buffer.
pub(crate) fn noise_beside_pays(d: usize, outer: Parallelism) -> bool {
    // In this order: the thread count is asked last, as it starts rayon's global pool.
    d > NOISE_BLOCK && !outer.all_threads_busy() && rayon::current_num_threads() > 1
}

/// Runs `f(offset, y_block, z_block)` over the fixed blocks of `y` and `z` (same length, or `z`
/// empty and every `z_block` empty), in parallel when there are several blocks. Element-wise
/// work only, so the result does not depend on the thread count.
pub(crate) fn par_blocks<T, F>(y: &mut [T], z: &mut [T], f: F)
where
    T: Real,
    F: Fn(usize, &mut [T], &mut [T]) + Sync,
{
    par_blocks_all(y, z, |o, yb, zb| {
        f(o, yb, zb);
        true
    });
}

/// [`par_blocks`] for blocks that report a check (e.g. that their gradient was finite): runs
/// every block, then returns whether all of them returned true.
pub(crate) fn par_blocks_all<T, F>(y: &mut [T], z: &mut [T], f: F) -> bool
where
    T: Real,
    F: Fn(usize, &mut [T], &mut [T]) -> bool + Sync,
{
    use rayon::prelude::*;
    debug_assert!(z.is_empty() || z.len() == y.len());
    // `reduce`, not `all`: every block runs (no early exit), as in the unchecked pass.
    if y.len() <= NOISE_BLOCK {
        f(0, y, z)
    } else if z.is_empty() {
        y.par_chunks_mut(NOISE_BLOCK)
            .enumerate()
            .map(|(b, yb)| f(b * NOISE_BLOCK, yb, &mut []))
            .reduce(|| true, |a, b| a & b)
    } else {
        y.par_chunks_mut(NOISE_BLOCK)
            .zip(z.par_chunks_mut(NOISE_BLOCK))
            .enumerate()
            .map(|(b, (yb, zb))| f(b * NOISE_BLOCK, yb, zb))
            .reduce(|| true, |a, b| a & b)
    }
}

/// y ← x + s·ξ with ξ drawn from `r`, a chunk of [`NOISE_CHUNK`] variates at a time while the
/// chunk is in L1 (the same variates as one fill of all of y): one Gaussian sample around x.
pub(crate) fn sample_around<T: Real>(r: &mut crate::rng::Prng, y: &mut [T], x: &[T], s: T) {
    for (yc, xc) in y.chunks_mut(NOISE_CHUNK).zip(x.chunks(NOISE_CHUNK)) {
        T::fill_standard_normal(r, yc);
        shift_scaled(yc, xc, s);
    }
}

/// acc ← acc·rescale + w·y, then y ← x + s·ξ with ξ drawn from `r`: the previous sample's term
/// of a weighted sum and the next Gaussian sample, in one pass while each chunk of
/// [`NOISE_CHUNK`] is in L1. Per element the same operations as [`scale`] (if `rescale` is
/// given), [`axpy`] and [`sample_around`] one after the other, so the same bits.
pub(crate) fn add_then_sample_around<T: Real>(
    r: &mut crate::rng::Prng,
    acc: &mut [T],
    y: &mut [T],
    x: &[T],
    s: T,
    rescale: Option<T>,
    w: T,
) {
    let chunks = acc.chunks_mut(NOISE_CHUNK).zip(y.chunks_mut(NOISE_CHUNK));
    for ((ac, yc), xc) in chunks.zip(x.chunks(NOISE_CHUNK)) {
        if let Some(c) = rescale {
            scale(ac, c);
        }
        axpy(ac, w, yc);
        T::fill_standard_normal(r, yc);
        shift_scaled(yc, xc, s);
    }
}

/// y ← x + s·ξ with ξ the noise of pass `step` under `key` (the block streams of [`fill_noise`],
/// so the same variates), drawn and applied block by block in parallel.
pub(crate) fn gaussian_around<T: Real>(key: u64, step: u64, y: &mut [T], x: &[T], s: T) {
    gaussian_around_at(key, step, 0, y, x, s)
}

/// Elements `offset..offset + y.len()` of [`gaussian_around`]'s sample (`offset` a multiple of
/// [`NOISE_BLOCK`], `x` the whole center): the same variates, a part at a time.
pub(crate) fn gaussian_around_at<T: Real>(
    key: u64,
    step: u64,
    offset: usize,
    y: &mut [T],
    x: &[T],
    s: T,
) {
    debug_assert_eq!(offset % NOISE_BLOCK, 0);
    par_blocks(y, &mut [], |o, yb, _| {
        let at = offset + o;
        let xb = &x[at..at + yb.len()];
        sample_around(&mut block_stream(key, step, at / NOISE_BLOCK), yb, xb, s)
    });
}

/// z ← x + s·ξ (a Gaussian sample around x with standard deviation s).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn gaussian_sample<T: Real>(z: &mut [T], x: &[T], noise: &[T], s: T) {
    for ((zi, &xi), &ni) in z.iter_mut().zip(x).zip(noise) {
        *zi = xi + s * ni;
    }
}

/// Euclidean norm |v|, summed in 16 interleaved partial sums (a vectorizable order; the plain
/// left-to-right sum runs at one addition per add-latency). Overflows to ∞ like the plain sum.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn norm<T: Real>(v: &[T]) -> T {
    const LANES: usize = 16;
    let mut acc = [T::zero(); LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &e) in acc.iter_mut().zip(c) {
            *a += e * e;
        }
    }
    for (a, &e) in acc.iter_mut().zip(rest) {
        *a += e * e;
    }
    acc.iter().fold(T::zero(), |s, &a| s + a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `beside` tells its first task that a thread is idle beside it when the two run side by
    /// side, unless the caller was told that every thread is busy; one after the other it passes
    /// the caller's hint on. The noise goes beside the gradient only where a thread can draw it.
    #[test]
    fn beside_passes_its_hint_unless_all_threads_are_busy() {
        use Parallelism::*;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            let seen = |outer: Parallelism, d: usize| {
                let mut got = None;
                beside(outer, |par| got = Some(par), || {}, d);
                got.unwrap()
            };
            let (long, short) = (2 * NOISE_BLOCK, NOISE_BLOCK);
            assert_eq!(seen(Unknown, long), IdleThreadBeside);
            assert_eq!(seen(IdleThreadBeside, long), IdleThreadBeside);
            assert_eq!(seen(AllThreadsBusy, long), AllThreadsBusy);
            assert_eq!(seen(Unknown, short), Unknown);
            assert_eq!(seen(AllThreadsBusy, short), AllThreadsBusy);
            assert!(noise_beside_pays(long, Unknown));
            assert!(!noise_beside_pays(long, AllThreadsBusy));
            assert!(!noise_beside_pays(short, Unknown));
        });
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        one.install(|| assert!(!noise_beside_pays(2 * NOISE_BLOCK, Unknown)));
    }
}
