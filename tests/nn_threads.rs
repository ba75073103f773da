//! Thread independence of the MLP's matrix products at the network and minibatches that are
//! benchmarked (000 §6.1's 784→200→10 at minibatch 20, 128 and 1000): a call from outside rayon's
//! workers threads its large products (`gemm` crate, split over the rows and columns of C only),
//! a call from inside a worker never does — the loss and gradient must be bit-identical, in f32
//! and f64, so results never depend on the thread count.

use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Cost, Gradient, Real};

const N: usize = 1200;

/// Rayon's global pool with two threads, so the calling thread's products are threaded even on a
/// one-CPU machine (the first test to run builds it; later calls find it built).
fn two_thread_global_pool() {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
    assert!(rayon::current_num_threads() >= 2);
}

fn mnist_like<T: Real>() -> Arc<Dataset<T>> {
    let mut r = rng::seeded(11);
    let inputs = DMatrix::<T>::from_fn(784, N, |_, _| {
        T::lit(f64::standard_normal(&mut r).abs().min(1.0))
    });
    let labels = (0..N).map(|i| (i % 10) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 10).unwrap())
}

fn check<T: Real>(b: usize, data: &Arc<Dataset<T>>) {
    let f = MlpObjective::new(Mlp::new(&[784, 200, 10]).unwrap(), Arc::clone(data), b).unwrap();
    let x = f.init(&mut rng::seeded(3));
    let batch = Batch::Indices((0..b).map(|i| (i * 7) % N).collect());
    let call = || {
        let mut g = DVector::<T>::zeros(f.dim());
        let v = f.cost_and_gradient(&x, &batch, &mut g);
        (v, f.cost(&x, &batch), g)
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (v1, c1, g1) = one.install(call);
    let (v2, c2, g2) = call();
    // A loss near log 10 (the initialization is near-uniform) and a non-trivial gradient.
    assert!(
        v1.is_finite() && (v1.as_f64() - 10f64.ln()).abs() < 1.5,
        "{v1}"
    );
    assert!(g1.amax() > T::lit(1e-4));
    assert_eq!(
        v1.as_f64().to_bits(),
        v2.as_f64().to_bits(),
        "loss, B = {b}"
    );
    assert_eq!(
        c1.as_f64().to_bits(),
        c2.as_f64().to_bits(),
        "cost, B = {b}"
    );
    assert_eq!(v1, c1, "cost and cost_and_gradient disagree, B = {b}");
    let differ = g1.iter().zip(g2.iter()).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{differ} gradient entries differ, B = {b}");
}

#[test]
fn f32_loss_and_gradient_are_bit_identical_with_and_without_threaded_products() {
    two_thread_global_pool();
    let data = mnist_like::<f32>();
    for b in [20, 128, 1000] {
        check(b, &data);
    }
}

#[test]
fn f64_loss_and_gradient_are_bit_identical_with_and_without_threaded_products() {
    two_thread_global_pool();
    let data = mnist_like::<f64>();
    for b in [20, 128, 1000] {
        check(b, &data);
    }
}
