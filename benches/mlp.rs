//! MLP passes for 000 §6.1's 784→200→10 network in f32, at minibatch 20 (000 §6.2), 128
//! (Entropy-SGD, 004 §5.2) and 1000 (issue 6). Throughput is reported in FLOP ("elements") per
//! second of the matrix products: 2·B·(784·200 + 200·10) for the forward pass, the same again for
//! ∇W, and 2·B·200·10 for the one propagated delta.
//!
//! Groups (`_1thread`: the same call inside a 1-thread rayon pool — what a call from inside
//! rayon's workers gets, e.g. one importance sample or Parle replica — so the 2-thread speedup of
//! the plain groups is visible):
//! - `mlp_784_200_10_f32_forward_backward[_1thread]`: one `cost_and_gradient` (SGD, SGLD, Entropy-SGD);
//! - `mlp_784_200_10_f32_cost[_1thread]`: one `cost`, forward only (importance sampling's samples).
//!
//! Run: `cargo bench --bench mlp` (or a filter, e.g. `cargo bench --bench mlp -- cost_1thread/20`).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Cost, Gradient, Real};

const BATCHES: [usize; 3] = [20, 128, 1000];

/// Forward FLOPs of the products at minibatch `b`.
fn forward_flops(b: usize) -> u64 {
    (2 * b * (784 * 200 + 200 * 10)) as u64
}

/// Runs `f` inside `pool` if given (calls from a rayon worker do not thread their products),
/// else on the calling thread (products of large minibatches are threaded).
fn in_pool<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

fn bench_mlp(c: &mut Criterion) {
    let n = 2000;
    let mut r = rng::seeded(1);
    // Random MNIST-like inputs in [0, 1]; the timing does not depend on the values.
    let inputs =
        DMatrix::<f32>::from_fn(784, n, |_, _| f32::standard_normal(&mut r).abs().min(1.0));
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    let data = Arc::new(Dataset::new(inputs, labels, 10).unwrap());
    let mlp = Mlp::new(&[784, 200, 10]).unwrap();
    let x: DVector<f32> = mlp.init(&mut rng::seeded(2));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for single in [false, true] {
        let suffix = if single { "_1thread" } else { "" };
        let pool = single.then_some(&one);
        let mut group = c.benchmark_group(format!("mlp_784_200_10_f32_forward_backward{suffix}"));
        for b in BATCHES {
            let f = MlpObjective::new(mlp.clone(), Arc::clone(&data), b).unwrap();
            let batch = Batch::Indices((0..b).map(|i| (i * 7) % n).collect());
            let mut g = DVector::<f32>::zeros(mlp.num_params());
            group.throughput(Throughput::Elements(
                2 * forward_flops(b) + (2 * b * 200 * 10) as u64,
            ));
            group.bench_with_input(BenchmarkId::from_parameter(b), &b, |bench, _| {
                in_pool(pool, || {
                    bench.iter(|| black_box(f.cost_and_gradient(black_box(&x), &batch, &mut g)))
                })
            });
        }
        group.finish();
        let mut group = c.benchmark_group(format!("mlp_784_200_10_f32_cost{suffix}"));
        for b in BATCHES {
            let f = MlpObjective::new(mlp.clone(), Arc::clone(&data), b).unwrap();
            let batch = Batch::Indices((0..b).map(|i| (i * 7) % n).collect());
            group.throughput(Throughput::Elements(forward_flops(b)));
            group.bench_with_input(BenchmarkId::from_parameter(b), &b, |bench, _| {
                in_pool(pool, || {
                    bench.iter(|| black_box(f.cost(black_box(&x), &batch)))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_mlp);
criterion_main!(benches);
