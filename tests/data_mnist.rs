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
