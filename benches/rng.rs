//! Gaussian noise throughput (issue 6: random-number generation is part of every sampling
//! update's floor). One "element" is one variate; d = 159,010 is the 784→200→10 MLP.
//!
//! - `chacha8_words`: raw ChaCha8 output (`Rng::fill` on `u32`), the generator underneath;
//! - `ziggurat_f32`: `rand_distr::StandardNormal`, one variate at a time (what the crate did before);
//! - `fill_standard_normal_f32` / `_f64`: `rng::fill_standard_normal` (vectorized Box–Muller for f32);
//! - `fill_standard_normal_f32_chunks512`: the same d variates drawn 512 at a time from one fresh
//!   stream, as importance sampling and HEAT draw them (`kernels::sample_around`, chunks in L1).
//!
//! Run: `cargo bench --bench rng`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use wide_valleys::rng;

const D: usize = 159_010;

fn bench_rng(c: &mut Criterion) {
    let mut g = c.benchmark_group("gaussian_noise_d159010");
    g.throughput(Throughput::Elements(D as u64));
    let mut r = rng::seeded(1);
    let mut words = vec![0u32; D];
    g.bench_function("chacha8_words", |b| {
        b.iter(|| r.fill(black_box(&mut words[..])))
    });
    let mut v32 = vec![0f32; D];
    g.bench_function("ziggurat_f32", |b| {
        b.iter(|| {
            v32.iter_mut()
                .for_each(|v| *v = StandardNormal.sample(&mut r))
        })
    });
    g.bench_function("fill_standard_normal_f32", |b| {
        b.iter(|| rng::fill_standard_normal(&mut r, black_box(&mut v32[..])))
    });
    let mut stream_index = 0;
    g.bench_function("fill_standard_normal_f32_chunks512", |b| {
        b.iter(|| {
            stream_index += 1;
            let mut s = rng::stream(1, stream_index);
            for c in v32.chunks_mut(512) {
                rng::fill_standard_normal(&mut s, black_box(c));
            }
        })
    });
    let mut v64 = vec![0f64; D];
    g.bench_function("fill_standard_normal_f64", |b| {
        b.iter(|| rng::fill_standard_normal(&mut r, black_box(&mut v64[..])))
    });
    g.finish();
}

criterion_group!(benches, bench_rng);
criterion_main!(benches);
