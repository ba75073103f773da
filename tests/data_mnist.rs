//! The real MNIST files, when `MNIST_DIR` points at them (000 §6): 60,000/10,000 images of
//! 28×28 and the published class counts. Skipped (with a message) when `MNIST_DIR` is not set.

use wide_valleys::data::Mnist;

#[test]
fn real_mnist_has_the_published_sizes_and_class_counts() {
    if std::env::var_os("MNIST_DIR").is_none() {
        eprintln!(
            "skipped: MNIST_DIR is not set (point it at the four MNIST .gz files to run this)"
        );
        return;
    }
    let m = Mnist::<f32>::from_env().expect("MNIST_DIR is set: the files must load");
    assert_eq!(m.train.len(), 60_000);
    assert_eq!(m.test.len(), 10_000);
    assert_eq!(m.train.features(), 28 * 28);
    assert_eq!(m.test.features(), 28 * 28);
    assert_eq!(
        m.train.class_counts(),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        m.test.class_counts(),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // Pixels in [0, 1], with both ends present; the mean intensity of MNIST is ≈ 0.1307.
    let (mut lo, mut hi, mut sum) = (f32::MAX, f32::MIN, 0.0f64);
    for &v in m.train.inputs().iter() {
        lo = lo.min(v);
        hi = hi.max(v);
        sum += v as f64;
    }
    assert_eq!((lo, hi), (0.0, 1.0));
    let mean = sum / (60_000.0 * 784.0);
    assert!((mean - 0.1307).abs() < 1e-3, "mean pixel {mean}");
}

/// End to end on real MNIST: plain SGD on 784→200→10 (minibatch 20, 000 §6.2) through the
/// objective traits learns: accuracy on 1000 random test images rises from ≈10% to > 88% (91.4% measured) in 1000
/// updates (learning rate 0.1). Skipped when `MNIST_DIR` is not set.
#[test]
fn sgd_on_real_mnist_learns() {
    use nalgebra::DVector;
    use std::sync::Arc;
    use wide_valleys::nn::{Mlp, MlpObjective};
    use wide_valleys::{rng, Batch, Cost, Gradient};
    if std::env::var_os("MNIST_DIR").is_none() {
        eprintln!("skipped: MNIST_DIR is not set");
        return;
    }
    let m = Mnist::<f32>::from_env().unwrap();
    let mlp = Mlp::new(&[784, 200, 10]).unwrap();
    let f = MlpObjective::new(mlp, Arc::new(m.train), 20).unwrap();
    let mut r = rng::seeded(1);
    let mut x = f.init(&mut r);
    let before = f
        .evaluate_random(&x, &m.test, 1000, &mut rng::seeded(2))
        .unwrap();
    let (mut batch, mut g) = (Batch::Full, DVector::zeros(f.dim()));
    for _ in 0..1000 {
        f.draw_batch(&mut r, &mut batch);
        f.gradient(&x, &batch, &mut g);
        x.axpy(-0.1, &g, 1.0);
    }
    let after = f
        .evaluate_random(&x, &m.test, 1000, &mut rng::seeded(2))
        .unwrap();
    eprintln!(
        "accuracy {} -> {}, loss {} -> {}",
        before.accuracy, after.accuracy, before.loss, after.loss
    );
    assert!(before.accuracy < 0.3);
    assert!(after.accuracy > 0.88, "{after:?}");
    assert!(after.loss < 0.45, "{after:?}");
}
