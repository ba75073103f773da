//! Time per update of every scheme and optimizer of the crate (issue 6, item 1) at the sizes of
//! 000 Table 2: the MLP 784 → 200 → 10 (000 §6.1) in f32, minibatch 20 (000 §6.2), τ = 0.01
//! (a variance; scope γ = 1 for the Langevin-based optimizers, see [`SCOPE`]), on synthetic
//! data of MNIST's shape (784 features in [0, 1], 10 classes; the timing does not depend on the
//! values, and benches must not need a download).
//!
//! | bench | what one iteration is |
//! |---|---|
//! | `sgd` | one SGD step (000 Table 2's "SGD") |
//! | `sgld_1000` | one local-entropy step by SGLD, 10³ Langevin steps (000 Alg. 1 + Alg. 3) |
//! | `importance_sampling_1000` | one local-entropy step by importance sampling, 10³ samples (000 Alg. 1 + Alg. 4) |
//! | `importance_sampling_1000_projected` | the same with `ImportanceSampling::projected(true)` (first layer's noise drawn through its product with the minibatch: the same law) |
//! | `heat_regularization_rm_30x30` | one heat-regularization step by Robbins–Monro, M = J = 30 (000 Alg. 2 + Alg. 5) |
//! | `heat_regularization_rm_30x30_projected` | the same with `GaussianExpectation::ProjectedMonteCarlo` (first layer's noise drawn through its product with the minibatch: the same law) |
//! | `entropy_sgd_l20_b128` | one Entropy-SGD outer step, L = 20, minibatch 128, scaled (x ← μ; 004 Alg. 1, 003 §3.2.3) |
//! | `heat_l20` | one HEAT step, L = 20 perturbed gradients (003 eq. 4.43) |
//! | `hj_l5` | one HJ step, L = 5 inner steps, scaled (x ← y_L; 003 eq. 4.41–4.42) |
//! | `parle_n3_l25` | one Parle outer step, n = 3 replicas, L = 25 (003 eq. 5.8, §5.3.2) |
//!
//! Few samples and short measurement times so that the whole file runs in a few minutes:
//! `cargo bench --bench updates`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use std::time::Duration;
use wide_valleys::data::Dataset;
use wide_valleys::kl::{GaussianExpectation, RobbinsMonro};
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::optim::{EntropySgd, GradientDescent, Heat, Parle, SmoothedOptimizer};
use wide_valleys::sampling::ImportanceSampling;
use wide_valleys::smoothing::HopfLaxGradient;
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::Optimizer;
use wide_valleys::{rng, HeatRegularization, LocalEntropy, Real};

/// τ of 000 §6.2 (the two-step schemes and HEAT's perturbation variance), a variance.
const TAU: f32 = 0.01;

/// Scope γ (a variance) of Entropy-SGD, HJ and Parle. Their inner loop takes steps η′ = 0.1 on
/// f(y) + |y − x|²/(2γ), which is stable only for η′/γ < 2: γ = τ = 0.01 diverges. γ = 1 is
/// 004's coupling γ₀₀₄ = 1 (γ = 1/γ₀₀₄); the timing does not depend on it.
const SCOPE: f32 = 1.0;

/// A dataset of MNIST's shape: `n` examples, 784 features in [0, 1], 10 balanced classes.
fn synthetic(n: usize) -> Arc<Dataset<f32>> {
    let mut r = rng::seeded(1);
    let inputs =
        DMatrix::<f32>::from_fn(784, n, |_, _| f32::standard_normal(&mut r).abs().min(1.0));
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 10).expect("valid synthetic dataset"))
}

fn bench_updates(c: &mut Criterion) {
    let data = synthetic(10_000);
    let mlp = Mlp::new(&[784, 200, 10]).expect("valid sizes");
    let f20 = MlpObjective::new(mlp.clone(), Arc::clone(&data), 20).expect("objective");
    let f128 = MlpObjective::new(mlp.clone(), Arc::clone(&data), 128).expect("objective");
    let x0: DVector<f32> = mlp.init(&mut rng::seeded(2));

    let mut g = c.benchmark_group("update_784_200_10_f32");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    // Each closure steps x in place: the state evolves as in training, which is what is timed.
    let mut x = x0.clone();
    let mut sgd = GradientDescent::new(0.01f32).seed(1);
    g.bench_function("sgd", |b| {
        b.iter(|| black_box(sgd.step(&mut x, &f20).expect("sgd step")))
    });

    let mut x = x0.clone();
    let mut sgld = LocalEntropy::<f32>::new(TAU).seed(1);
    g.bench_function("sgld_1000", |b| {
        b.iter(|| black_box(sgld.step(&mut x, &f20).expect("sgld step")))
    });

    let mut x = x0.clone();
    let mut is = LocalEntropy::<f32>::new(TAU)
        .estimator(ImportanceSampling::new(1000))
        .seed(1);
    g.bench_function("importance_sampling_1000", |b| {
        b.iter(|| black_box(is.step(&mut x, &f20).expect("is step")))
    });

    let mut x = x0.clone();
    let mut is = LocalEntropy::<f32>::new(TAU)
        .estimator(ImportanceSampling::new(1000).projected(true))
        .seed(1);
    g.bench_function("importance_sampling_1000_projected", |b| {
        b.iter(|| black_box(is.step(&mut x, &f20).expect("is step")))
    });

    let mut x = x0.clone();
    let mut hr = HeatRegularization::<f32>::new(TAU).seed(1);
    g.bench_function("heat_regularization_rm_30x30", |b| {
        b.iter(|| black_box(hr.step(&mut x, &f20).expect("hr step")))
    });

    let mut x = x0.clone();
    let rm = RobbinsMonro::paper().expectation(GaussianExpectation::ProjectedMonteCarlo);
    let mut hr = HeatRegularization::<f32>::new(TAU).solver(rm).seed(1);
    g.bench_function("heat_regularization_rm_30x30_projected", |b| {
        b.iter(|| black_box(hr.step(&mut x, &f20).expect("hr step")))
    });

    let mut x = x0.clone();
    // Scaled form (003 §3.2.3) with η = 1, i.e. x ← μ (no dependence of the step on γ).
    let mut esgd =
        EntropySgd::with_oracle(LocalEntropyGradient::new(SCOPE, 20).scaled(true), 1.0f32).seed(1);
    g.bench_function("entropy_sgd_l20_b128", |b| {
        b.iter(|| black_box(esgd.step(&mut x, &f128).expect("entropy-sgd step")))
    });

    let mut x = x0.clone();
    let mut heat = Heat::new(TAU, 20, 0.1f32).seed(1);
    g.bench_function("heat_l20", |b| {
        b.iter(|| black_box(heat.step(&mut x, &f20).expect("heat step")))
    });

    let mut x = x0.clone();
    // Scaled as Entropy-SGD above: x ← y_L.
    let mut hj =
        SmoothedOptimizer::with_oracle(HopfLaxGradient::new(SCOPE, 5).scaled(true), 1.0f32).seed(1);
    g.bench_function("hj_l5", |b| {
        b.iter(|| black_box(hj.step(&mut x, &f20).expect("hj step")))
    });

    let mut x = x0.clone();
    let mut parle = Parle::new(3, SCOPE, 1.0f32, 25, 0.1f32).seed(1);
    g.bench_function("parle_n3_l25", |b| {
        b.iter(|| black_box(parle.step(&mut x, &f20).expect("parle step")))
    });
    g.finish();
}

criterion_group!(benches, bench_updates);
criterion_main!(benches);
