//! Thread scaling of the parallel updates (issue 6: "importance sampling and Parle replicas:
//! ≥ 1.8× faster on 2 threads than on 1"), on the MLP 784 → 200 → 10 (000 §6.1) in f32,
//! minibatch 20, τ = 0.01 (a variance), synthetic data of MNIST's shape — the setting of
//! `benches/updates.rs`.
//!
//! Each update is timed inside a dedicated rayon pool of 1 and of 2 threads (`pool.install`):
//!
//! | bench | what one iteration is |
//! |---|---|
//! | `importance_sampling_1000/{1,2}` | one local-entropy step by importance sampling, J = 10³ samples (000 Alg. 1 + Alg. 4) |
//! | `parle_n3_l25/{1,2}` | one Parle outer step, n = 3 replicas, L = 25 (003 eq. 5.8); the 3 × 25 Langevin steps are split evenly between the threads (one replica changes threads half-way), so up to 2× on 2 threads |
//! | `parle_n4_l25/{1,2}` | the same with n = 4 replicas (2 per thread); either way one parallel region per outer step (`Transport::round`: the commits of 5.8c and the mean of 5.8d inside it) |
//! | `parle_n{3,4}_l25_b128/{1,2}` | the same at minibatch 128 (003 §5.4's, `examples/parle.rs`'s default): the products, not the memory-bound element-wise passes, dominate |
//! | `sgld_1000/{1,2}` | one local-entropy step by SGLD, 10³ Langevin steps (000 Alg. 1 + Alg. 3) |
//! | `sgld_1000/caller_2` | the same, called from the bench's own thread with a 2-thread global pool |
//!
//! SGLD is a sequential chain: its only parallelism is inside the MLP's matrix products, which
//! `src/nn/linalg/` splits only when called from outside rayon's workers — never inside
//! `pool.install` — hence the `caller_2` variant, which is how a user calls it.
//!
//! `cargo bench --bench scaling` (a few minutes; the 2-thread figures need a quiet machine:
//! check `uptime`). `examples/perf_scaling.rs` prints the same comparison as a table.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use std::time::Duration;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::optim::Parle;
use wide_valleys::sampling::ImportanceSampling;
use wide_valleys::Optimizer;
use wide_valleys::{rng, LocalEntropy, Real};

/// τ of 000 §6.2, a variance.
const TAU: f32 = 0.01;

/// Parle's scope γ (a variance), as in `benches/updates.rs` (stable inner steps η′ = 0.1).
const SCOPE: f32 = 1.0;

/// A dataset of MNIST's shape: `n` examples, 784 features in [0, 1], 10 balanced classes.
fn synthetic(n: usize) -> Arc<Dataset<f32>> {
    let mut r = rng::seeded(1);
    let inputs =
        DMatrix::<f32>::from_fn(784, n, |_, _| f32::standard_normal(&mut r).abs().min(1.0));
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 10).expect("valid synthetic dataset"))
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn bench_scaling(c: &mut Criterion) {
    // For `sgld_1000/caller_2`; harmless if the global pool already exists.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
    let data = synthetic(10_000);
    let mlp = Mlp::new(&[784, 200, 10]).expect("valid sizes");
    let f = MlpObjective::new(mlp.clone(), Arc::clone(&data), 20).expect("objective");
    // 003 §5.4's minibatch for Parle (examples/parle.rs's default).
    let f128 = MlpObjective::new(mlp.clone(), data, 128).expect("objective");
    let x0: DVector<f32> = mlp.init(&mut rng::seeded(2));

    let mut g = c.benchmark_group("scaling_784_200_10_f32");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));

    for threads in [1, 2] {
        let p = pool(threads);
        // Every (update, thread count) starts from the same x and seed: the same work is timed.
        let mut x = x0.clone();
        let mut is = LocalEntropy::<f32>::new(TAU)
            .estimator(ImportanceSampling::new(1000))
            .seed(1);
        g.bench_with_input(
            BenchmarkId::new("importance_sampling_1000", threads),
            &threads,
            |b, _| b.iter(|| p.install(|| black_box(is.step(&mut x, &f).expect("is step")))),
        );

        for (n, batch, f) in [(3, 20, &f), (4, 20, &f), (3, 128, &f128), (4, 128, &f128)] {
            let mut x = x0.clone();
            // Default transport: the replicas run on the pool the step is called from.
            let mut parle = Parle::new(n, SCOPE, 1.0f32, 25, 0.1f32).seed(1);
            let name = if batch == 20 {
                format!("parle_n{n}_l25")
            } else {
                format!("parle_n{n}_l25_b{batch}")
            };
            g.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, _| {
                b.iter(|| p.install(|| black_box(parle.step(&mut x, f).expect("parle step"))))
            });
        }

        let mut x = x0.clone();
        let mut sgld = LocalEntropy::<f32>::new(TAU).seed(1);
        g.bench_with_input(BenchmarkId::new("sgld_1000", threads), &threads, |b, _| {
            b.iter(|| p.install(|| black_box(sgld.step(&mut x, &f).expect("sgld step"))))
        });
    }

    let mut x = x0.clone();
    let mut sgld = LocalEntropy::<f32>::new(TAU).seed(1);
    g.bench_function(BenchmarkId::new("sgld_1000", "caller_2"), |b| {
        b.iter(|| black_box(sgld.step(&mut x, &f).expect("sgld step")))
    });
    g.finish();
}

criterion_group!(benches, bench_scaling);
criterion_main!(benches);
