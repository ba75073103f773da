//! Losses chosen at run time: `Box<dyn Gradient<T>>`, `&dyn Gradient<T>` (and the `Cost`
//! equivalents) are losses for every scheme and optimizer, and give the same bits as the concrete
//! loss: every method is forwarded, including the minibatch draw, `cost_and_gradient` and the
//! objectives' faster paths (`as_mean_gradient`, `as_gaussian_weighted_mean`).

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::kl::{GaussianExpectation, RobbinsMonro};
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::optim::{EntropySgd, Parle};
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::ImportanceSampling;
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::{
    rng, Batch, Cost, Gradient, HeatRegularization, LocalEntropy, Optimizer, Prng, Real,
};

/// A stochastic least-squares loss on minibatches of 3 of 8 rows, drawn by `draw_batch`, with
/// its own `cost_and_gradient` (which it counts): a forwarding that forgot either would change
/// the bits or the count.
struct Noisy {
    rows: DMatrix<f64>,
    targets: DVector<f64>,
    /// Calls of `cost_and_gradient` (shared, so that it can be read through a box).
    fused: Arc<AtomicUsize>,
}

impl Noisy {
    fn new() -> Self {
        let mut r = rng::seeded(11);
        Self {
            rows: DMatrix::from_fn(8, 3, |_, _| r.random_range(-1.0..1.0)),
            targets: DVector::from_fn(8, |_, _| r.random_range(-1.0..1.0)),
            fused: Arc::default(),
        }
    }
    fn rows(&self, batch: &Batch) -> Vec<usize> {
        batch
            .indices()
            .map(<[usize]>::to_vec)
            .unwrap_or_else(|| (0..8).collect())
    }
}

impl Cost<f64> for Noisy {
    fn dim(&self) -> usize {
        3
    }
    fn cost(&self, x: &DVector<f64>, batch: &Batch) -> f64 {
        let rows = self.rows(batch);
        rows.iter()
            .map(|&i| (self.rows.row(i).transpose().dot(x) - self.targets[i]).powi(2))
            .sum::<f64>()
            / (2.0 * rows.len() as f64)
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        let v = batch.indices_mut();
        v.extend((0..3).map(|_| rng.random_range(0..8)));
    }
}

impl Gradient<f64> for Noisy {
    fn gradient(&self, x: &DVector<f64>, batch: &Batch, grad: &mut DVector<f64>) {
        let rows = self.rows(batch);
        grad.fill(0.0);
        for &i in &rows {
            let r = self.rows.row(i).transpose();
            grad.axpy((r.dot(x) - self.targets[i]) / rows.len() as f64, &r, 1.0);
        }
    }
    fn cost_and_gradient(&self, x: &DVector<f64>, batch: &Batch, grad: &mut DVector<f64>) -> f64 {
        self.fused.fetch_add(1, Ordering::SeqCst);
        self.gradient(x, batch, grad);
        self.cost(x, batch)
    }
}

fn bits<T: Real>(x: &DVector<T>) -> Vec<u64> {
    x.iter().map(|v| v.as_f64().to_bits()).collect()
}

/// `steps` steps of a fresh `make()` from x0 on `loss`; the final x's bits.
fn run<O: ?Sized, S: Optimizer<f64, O>>(
    make: impl Fn() -> S,
    x0: &DVector<f64>,
    loss: &O,
    steps: usize,
) -> Vec<u64> {
    let mut opt = make();
    let mut x = x0.clone();
    for _ in 0..steps {
        opt.step(&mut x, loss).unwrap();
    }
    bits(&x)
}

/// The same bits through the concrete loss, a `Box<dyn Gradient>`, a `&dyn Gradient` (as a sized
/// loss `&dyn Gradient<f64>`) and the unsized `dyn Gradient<f64>` itself.
fn same_bits_every_way<S>(name: &str, make: impl Fn() -> S + Copy, steps: usize)
where
    S: Optimizer<f64, Noisy>
        + Optimizer<f64, Box<dyn Gradient<f64>>>
        + for<'a> Optimizer<f64, &'a dyn Gradient<f64>>
        + Optimizer<f64, dyn Gradient<f64>>,
{
    let x0 = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let concrete = Noisy::new();
    let want = run(make, &x0, &concrete, steps);
    let boxed: Box<dyn Gradient<f64>> = Box::new(Noisy::new());
    assert_eq!(
        run(make, &x0, &boxed, steps),
        want,
        "{name}: Box<dyn Gradient>"
    );
    let borrowed: &dyn Gradient<f64> = &concrete;
    assert_eq!(
        run(make, &x0, &borrowed, steps),
        want,
        "{name}: &dyn Gradient"
    );
    assert_eq!(
        run(make, &x0, borrowed, steps),
        want,
        "{name}: dyn Gradient"
    );
    assert_ne!(bits(&x0), want, "{name}: the steps moved x");
}

#[test]
fn entropy_sgd_and_local_entropy_give_the_same_bits_through_box_and_ref_dyn() {
    same_bits_every_way(
        "Entropy-SGD",
        || {
            EntropySgd::with_oracle(
                LocalEntropyGradient::with_estimator(
                    0.5,
                    ExponentialSgld::new(5).thermal_noise(0.01),
                ),
                0.1,
            )
            .seed(3)
        },
        4,
    );
    same_bits_every_way("LocalEntropy (SGLD)", || LocalEntropy::new(0.5).seed(3), 3);
    same_bits_every_way(
        "HeatRegularization (Robbins–Monro)",
        || HeatRegularization::new(0.5).seed(3),
        3,
    );
}

#[test]
fn parle_takes_a_boxed_loss() {
    let x0 = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let make = || Parle::new(2, 0.5, 1.0, 3, 0.1).seed(2);
    let want = run(make, &x0, &Noisy::new(), 3);
    let boxed: Box<dyn Gradient<f64>> = Box::new(Noisy::new());
    assert_eq!(run(make, &x0, &boxed, 3), want);
    let concrete = Noisy::new();
    assert_eq!(run(make, &x0, &(&concrete as &dyn Gradient<f64>), 3), want);
}

#[test]
fn box_and_ref_dyn_forward_every_method() {
    let inner = Noisy::new();
    let boxed_count = Arc::clone(&inner.fused);
    let boxed: Box<dyn Gradient<f64>> = Box::new(inner);
    let concrete = Noisy::new();
    let borrowed: &dyn Gradient<f64> = &concrete;
    let x = DVector::from_vec(vec![0.3, 0.2, -0.1]);
    let check = |loss: &dyn Gradient<f64>, counter: &dyn Fn() -> usize| {
        let mut b = Batch::Full;
        loss.draw_batch(&mut rng::seeded(1), &mut b);
        assert_eq!(
            b.indices().map(<[usize]>::len),
            Some(3),
            "draw_batch forwarded"
        );
        let before = counter();
        let mut g = DVector::zeros(3);
        let v = loss.cost_and_gradient(&x, &b, &mut g);
        assert_eq!(counter(), before + 1, "cost_and_gradient forwarded");
        assert_eq!(v.to_bits(), concrete.cost(&x, &b).to_bits());
        (b, v, bits(&g))
    };
    // Through the Box's own impl (not through the inner `dyn` object's vtable).
    fn via<L: Gradient<f64>>(l: &L) -> &dyn Gradient<f64> {
        l
    }
    let a = check(via(&boxed), &|| boxed_count.load(Ordering::SeqCst));
    let b = check(via(&borrowed), &|| concrete.fused.load(Ordering::SeqCst));
    assert_eq!(a, b);
    assert_eq!(via(&boxed).dim(), 3);
    // A boxed cost (gradient-free) for importance sampling.
    let cost: Box<dyn Cost<f64>> = Box::new(Noisy::new());
    let x0 = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let make = || {
        LocalEntropy::new(0.5)
            .estimator(ImportanceSampling::new(200))
            .seed(4)
    };
    assert_eq!(run(make, &x0, &cost, 2), run(make, &x0, &Noisy::new(), 2));
    let cost_ref: &dyn Cost<f64> = &concrete;
    assert_eq!(
        run(make, &x0, &cost_ref, 2),
        run(make, &x0, &Noisy::new(), 2)
    );
}

/// 12 examples of 6 features in general position (every minibatch of 4 has an invertible XᵀX).
fn mlp() -> MlpObjective<f64> {
    let mut r = rng::seeded(6);
    let inputs = DMatrix::from_fn(6, 12, |_, _| r.random_range(-1.0..1.0));
    let labels = (0..12).map(|i| (i * 5 % 3) as u8).collect();
    let data = Arc::new(Dataset::new(inputs, labels, 3).unwrap());
    MlpObjective::new(Mlp::new(&[6, 5, 3]).unwrap(), data, 4).unwrap()
}

#[test]
fn the_faster_paths_of_an_objective_survive_boxing() {
    let f = mlp();
    let x0 = f.mlp().init(&mut rng::seeded(8));
    let boxed: Box<dyn Gradient<f64>> = Box::new(mlp());
    assert!(boxed.as_mean_gradient().is_some());
    assert!(boxed.as_gaussian_weighted_mean().is_some());
    let borrowed: &dyn Gradient<f64> = &f;
    assert!(Gradient::as_mean_gradient(&borrowed).is_some());
    // Projected importance sampling (as_gaussian_weighted_mean) and projected Robbins–Monro
    // (as_mean_gradient) give other numbers than whole samples: equal bits show the path was
    // taken through the box too.
    let is = || {
        LocalEntropy::new(0.01)
            .estimator(ImportanceSampling::new(30).projected(true))
            .seed(5)
    };
    let want = run(is, &x0, &f, 2);
    assert_eq!(run(is, &x0, &boxed, 2), want);
    assert_eq!(run(is, &x0, &borrowed, 2), want);
    let whole = || {
        LocalEntropy::new(0.01)
            .estimator(ImportanceSampling::new(30))
            .seed(5)
    };
    assert_ne!(run(whole, &x0, &f, 2), want, "the projected path differs");
    let rm = || {
        HeatRegularization::new(0.01)
            .solver(
                RobbinsMonro::paper()
                    .samples(3)
                    .iterations(3)
                    .expectation(GaussianExpectation::ProjectedMonteCarlo),
            )
            .seed(5)
    };
    let want = run(rm, &x0, &f, 2);
    assert_eq!(run(rm, &x0, &boxed, 2), want);
    assert_eq!(run(rm, &x0, &borrowed, 2), want);
    let entropy = || EntropySgd::new(0.5, 3, 0.1).seed(5);
    let want = run(entropy, &x0, &f, 2);
    assert_eq!(run(entropy, &x0, &boxed, 2), want);
    assert_eq!(run(entropy, &x0, &borrowed, 2), want);
}
