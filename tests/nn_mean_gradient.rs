//! The MLP's batched mean of many gradients ([`MeanGradient`], Robbins–Monro's (1/M) Σ ∇f(z_m)
//! of 000 Alg. 5, eq. 17, as stacked products) against the plain definition: the mean of M
//! separate gradients. Also its thread independence, its bad-input NaNs, and Robbins–Monro on
//! the MLP with and without it.

use nalgebra::{DMatrix, DVector};
use std::sync::Arc;
use wide_valleys::data::Dataset;
use wide_valleys::kl::{ModeSeekingSolver, RobbinsMonro};
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Cost, Gradient, MeanGradient, Prng, Real};

const N: usize = 300;

fn data<T: Real>(features: usize) -> Arc<Dataset<T>> {
    let mut r = rng::seeded(21);
    let inputs = DMatrix::<T>::from_fn(features, N, |_, _| T::lit(f64::standard_normal(&mut r)));
    let labels = (0..N).map(|i| (i * 7 % 4) as u8).collect();
    Arc::new(Dataset::new(inputs, labels, 4).unwrap())
}

fn objective<T: Real>(dropout: f64) -> MlpObjective<T> {
    let mlp = Mlp::new(&[12, 9, 7, 4])
        .unwrap()
        .with_dropout(dropout)
        .unwrap();
    MlpObjective::new(mlp, data(12), 10).unwrap()
}

/// 200→90→4: d = 18,454 parameters, more than one block of noise streams.
fn wide() -> MlpObjective<f64> {
    MlpObjective::new(Mlp::new(&[200, 90, 4]).unwrap(), data(200), 10).unwrap()
}

/// Point m: x + 0.3·(a deterministic pattern of m), so the M points differ; entries
/// `offset..offset + z.len()` (the objective asks for a point in parts).
fn point_fn<T: Real>(x: &DVector<T>) -> impl Fn(usize, usize, &mut [T]) + Sync + '_ {
    move |m: usize, offset: usize, z: &mut [T]| {
        for (j, zi) in z.iter_mut().enumerate() {
            let i = offset + j;
            *zi = x[i] + T::lit(0.3 * (((i * 31 + m * 17) % 23) as f64 / 23.0 - 0.5));
        }
    }
}

/// Batches of different sizes (one of a single example, one repeating an index).
fn batches() -> Vec<Batch> {
    (0..7)
        .map(|m| {
            let b = [10, 1, 4, 10, 7, 10, 3][m];
            Batch::Indices((0..b).map(|i| (i * 13 + m * 41) % N).collect())
        })
        .chain(std::iter::once(Batch::Indices(vec![5, 5, 9])))
        .collect()
}

/// (1/M) Σ_m ∇f(z_m) and (1/M) Σ_m f(z_m), one gradient at a time.
fn reference<T: Real>(f: &MlpObjective<T>, x: &DVector<T>, bs: &[Batch]) -> (DVector<T>, f64) {
    let point = point_fn(x);
    let (mut z, mut g) = (DVector::zeros(f.dim()), DVector::zeros(f.dim()));
    let mut sum = DVector::<f64>::zeros(f.dim());
    let mut loss = 0.0;
    for (m, b) in bs.iter().enumerate() {
        point(m, 0, z.as_mut_slice());
        loss += f.cost_and_gradient(&z, b, &mut g).as_f64();
        sum += g.map(|v| v.as_f64());
    }
    let m = bs.len() as f64;
    (sum.map(|v| T::lit(v / m)), loss / m)
}

fn agrees<T: Real>(dropout: f64, tol: f64) {
    let f = objective::<T>(dropout);
    let x = f.init(&mut rng::seeded(4));
    let bs = batches();
    let (want, want_loss) = reference(&f, &x, &bs);
    let batched = f.as_mean_gradient().expect("the MLP has a batched path");
    let mut got = DVector::zeros(f.dim());
    let loss = batched.mean_gradient(&bs, &point_fn(&x), &mut got);
    assert!(want.amax() > T::lit(1e-3), "a non-trivial gradient");
    let err = (&got - &want).amax().as_f64() / want.amax().as_f64();
    assert!(err < tol, "dropout {dropout}: relative error {err:e}");
    assert!(
        (loss.as_f64() - want_loss).abs() < tol * want_loss.abs(),
        "{loss} vs {want_loss}"
    );
}

#[test]
fn the_stacked_mean_gradient_is_the_mean_of_the_gradients_f64() {
    agrees::<f64>(0.0, 1e-12);
}

#[test]
fn the_stacked_mean_gradient_is_the_mean_of_the_gradients_f32() {
    agrees::<f32>(0.0, 2e-5);
}

/// Dropout masks are a function of each point's minibatch, as in a single gradient call.
#[test]
fn the_stacked_mean_gradient_keeps_each_minibatchs_dropout_mask() {
    agrees::<f64>(0.4, 1e-12);
}

/// The full index set and minibatches larger than a chunk take the one-at-a-time path.
#[test]
fn full_and_oversized_batches_give_the_same_mean() {
    let f = objective::<f64>(0.0).with_chunk(8).unwrap();
    let x = f.init(&mut rng::seeded(5));
    let bs = vec![
        Batch::Full,
        Batch::Indices((0..20).collect()),
        Batch::Indices(vec![3]),
    ];
    let (want, want_loss) = reference(&f, &x, &bs);
    let mut got = DVector::zeros(f.dim());
    let loss = f.mean_gradient(&bs, &point_fn(&x), &mut got);
    assert!((&got - &want).amax() < 1e-12 * want.amax());
    assert!((loss - want_loss).abs() < 1e-12);
}

#[test]
fn the_stacked_mean_gradient_is_bit_identical_on_one_and_two_threads() {
    let f = objective::<f32>(0.2);
    let x = f.init(&mut rng::seeded(6));
    let bs = batches();
    let run = || {
        let mut g = DVector::zeros(f.dim());
        let l = f.mean_gradient(&bs, &point_fn(&x), &mut g);
        (l, g)
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (l1, g1) = pool(1).install(run);
    let (l2, g2) = pool(2).install(run);
    assert_eq!(l1.to_bits(), l2.to_bits());
    assert!(g1
        .iter()
        .zip(g2.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn bad_input_gives_nan_not_a_panic() {
    let f = objective::<f64>(0.0);
    let x = f.init(&mut rng::seeded(7));
    let p = point_fn(&x);
    let mut g = DVector::zeros(f.dim());
    // An index out of range, an empty minibatch, no points, a gradient of the wrong length.
    for bs in [
        vec![Batch::Indices(vec![1, 2]), Batch::Indices(vec![N])],
        vec![Batch::Indices(vec![])],
        vec![],
    ] {
        g.fill(0.0);
        assert!(f.mean_gradient(&bs, &p, &mut g).is_nan());
        assert!(g.iter().all(|v| v.is_nan()));
    }
    let mut short = DVector::zeros(3);
    assert!(f.mean_gradient(&batches(), &p, &mut short).is_nan());
}

/// The MLP without its batched path: Robbins–Monro falls back to one gradient at a time.
struct Plain(MlpObjective<f64>);

impl Cost<f64> for Plain {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn cost(&self, x: &DVector<f64>, b: &Batch) -> f64 {
        self.0.cost(x, b)
    }
    fn draw_batch(&self, rng: &mut Prng, b: &mut Batch) {
        self.0.draw_batch(rng, b)
    }
}

impl Gradient<f64> for Plain {
    fn gradient(&self, x: &DVector<f64>, b: &Batch, g: &mut DVector<f64>) {
        self.0.gradient(x, b, g)
    }
}

/// Same samples z^(m) (the same per-pass noise streams, over several noise blocks), same
/// minibatches: the stacked and the one-at-a-time Robbins–Monro steps agree to rounding.
#[test]
fn robbins_monro_on_the_mlp_is_the_same_with_and_without_the_batched_path() {
    let f = wide();
    let x = f.init(&mut rng::seeded(8));
    let step = |loss: &dyn Fn(&mut RobbinsMonro<f64>, &mut DVector<f64>)| {
        let mut rm = RobbinsMonro::paper().samples(5).iterations(4);
        let mut out = DVector::zeros(x.len());
        loss(&mut rm, &mut out);
        out
    };
    let batched = step(&|rm, out| {
        rm.minimize(&x, 0.01, &f, &mut rng::seeded(9), out).unwrap();
    });
    let plain = Plain(wide());
    let one = step(&|rm, out| {
        rm.minimize(&x, 0.01, &plain, &mut rng::seeded(9), out)
            .unwrap();
    });
    let moved = (&batched - &x).amax();
    assert!(moved > 1e-4, "the step moves x ({moved:e})");
    let err = (&batched - &one).amax();
    assert!(
        err < 1e-12 * moved,
        "paths differ by {err:e} (step {moved:e})"
    );
}

/// d = 18,454 > one block: the first layer's product is accumulated over the columns of each
/// block as it arrives (182 columns, then 18).
#[test]
fn the_stacked_mean_gradient_over_several_blocks_is_the_mean_of_the_gradients() {
    let f = wide();
    let x = f.init(&mut rng::seeded(10));
    let bs = batches();
    let (want, want_loss) = reference(&f, &x, &bs);
    let mut got = DVector::zeros(f.dim());
    let loss = f.mean_gradient(&bs, &point_fn(&x), &mut got);
    let err = (&got - &want).amax() / want.amax();
    assert!(want.amax() > 1e-3 && err < 1e-12, "relative error {err:e}");
    assert!((loss - want_loss).abs() < 1e-12 * want_loss.abs());
}

/// A NaN or ∞ in the batched mean gradient (here: an input of 10³⁰⁰ in an example every
/// minibatch holds, so every product overflows) is the typed error of Alg. 5 — found in the
/// iterate's update pass, which is where the batched path checks it — and the output buffer is
/// left as it was.
#[test]
fn a_non_finite_batched_mean_gradient_is_a_typed_error_and_writes_nothing() {
    for bad in [1e300, -1e300] {
        let mut inputs = data::<f64>(200).inputs().clone_owned();
        inputs[(3, 17)] = bad;
        let poisoned = Dataset::new(inputs, (0..N).map(|i| (i * 7 % 4) as u8).collect(), 4);
        let mlp = Mlp::new(&[200, 90, 4]).unwrap();
        let f = MlpObjective::new(mlp, Arc::new(poisoned.unwrap()), N).unwrap();
        assert!(f.as_mean_gradient().is_some(), "the batched path is taken");
        let x = f.init(&mut rng::seeded(10));
        let mut out = DVector::from_element(f.dim(), 7.0);
        let mut rm = RobbinsMonro::paper().samples(3).iterations(2);
        let r = rm.minimize(&x, 0.01, &f, &mut rng::seeded(9), &mut out);
        match r {
            Err(e @ wide_valleys::Error::NonFinite { what, during }) => {
                assert_eq!((what, during), ("gradient", "Robbins–Monro"));
                assert_eq!(e.algorithm(), Some("Robbins–Monro"));
            }
            other => panic!("expected a non-finite gradient error, got {other:?}"),
        }
        assert!(out.iter().all(|&v| v == 7.0), "nothing written");
    }
}
