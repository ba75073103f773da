//! MLP forward+backward (one `cost_and_gradient`) for 000 §6.1's 784→200→10 network in f32, at
//! minibatch 20 (000 §6.2), 128 (Entropy-SGD, 004 §5.2) and 1000 (issue 6). Throughput is reported
//! in FLOP ("elements") per second: 2·B·(784·200 + 200·10) for the forward products, the same for
//! ∇W, and 2·B·200·10 for the one propagated delta.
//!
//! Run: `cargo bench --bench mlp`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Gradient, Real};

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
    let mut group = c.benchmark_group("mlp_784_200_10_f32_forward_backward");
    for b in [20usize, 128, 1000] {
        let f = MlpObjective::new(mlp.clone(), Arc::clone(&data), b).unwrap();
        let batch = Batch::Indices((0..b).map(|i| (i * 7) % n).collect());
        let mut g = DVector::<f32>::zeros(mlp.num_params());
        let flops = 2 * b * (784 * 200 + 200 * 10) * 2 + 2 * b * 200 * 10;
        group.throughput(Throughput::Elements(flops as u64));
        group.bench_with_input(BenchmarkId::from_parameter(b), &b, |bench, _| {
            bench.iter(|| black_box(f.cost_and_gradient(black_box(&x), &batch, &mut g)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_mlp);
criterion_main!(benches);
