//! Recorded bits: a hash of the iterates of every algorithm after a few seeded steps, on losses
//! whose arithmetic is the crate's own (no matrix-product kernels), so the hashes hold on every
//! CPU. A refactoring that changes any rounding anywhere changes a hash; a change of results
//! that is intended must update the table here and say why in its commit.
//!
//! The separable loss has d = 40 000 > three noise blocks of 16 384, so the blocked, parallel
//! noise and update passes are covered; each case runs on a 1-thread and a 2-thread pool, which
//! must agree.

use nalgebra::DVector;
use rand::Rng;
use wide_valleys::kl::RobbinsMonro;
use wide_valleys::optim::*;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::{ImportanceSampling, Sgld};
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum};
use wide_valleys::{
    Batch, Cost, Gradient, HeatRegularization, LocalEntropy, Optimizer, Prng, Real,
};

/// f(x) = ½ s(B) Σ_j λ_j (x_j − t_j)² with s(B) = 1 + mean(B)/N over a minibatch B of 4 of
/// N = 100 "examples": stochastic, separable, and cheap at any d.
struct Separable<T> {
    lambda: Vec<T>,
    target: Vec<T>,
}

impl<T: Real> Separable<T> {
    fn new(d: usize) -> Self {
        let mut r = wide_valleys::rng::seeded(77);
        Self {
            lambda: (0..d).map(|_| T::lit(r.random_range(0.5..2.0))).collect(),
            target: (0..d).map(|_| T::lit(r.random_range(-1.0..1.0))).collect(),
        }
    }
    fn scale(batch: &Batch) -> T {
        match batch.indices() {
            None => T::lit(1.5),
            Some(ix) => T::lit(1.0 + ix.iter().sum::<usize>() as f64 / (ix.len() * 100) as f64),
        }
    }
}

impl<T: Real> Cost<T> for Separable<T> {
    fn dim(&self) -> usize {
        self.lambda.len()
    }
    fn cost(&self, x: &DVector<T>, batch: &Batch) -> T {
        let mut s = T::zero();
        for ((&xi, &l), &t) in x.iter().zip(&self.lambda).zip(&self.target) {
            s += l * (xi - t) * (xi - t);
        }
        T::lit(0.5) * Self::scale(batch) * s
    }
    fn draw_batch(&self, rng: &mut Prng, batch: &mut Batch) {
        let ix = batch.indices_mut();
        ix.extend((0..4).map(|_| rng.random_range(0..100)));
    }
}

impl<T: Real> Gradient<T> for Separable<T> {
    fn gradient(&self, x: &DVector<T>, batch: &Batch, grad: &mut DVector<T>) {
        let s = Self::scale(batch);
        for (((g, &xi), &l), &t) in grad.iter_mut().zip(x).zip(&self.lambda).zip(&self.target) {
            *g = s * l * (xi - t);
        }
    }
}

fn fnv(h: &mut u64, bits: u64) {
    for b in bits.to_le_bytes() {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn hash<T: Real>(x: &DVector<T>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325;
    for v in x.iter() {
        fnv(&mut h, v.as_f64().to_bits());
    }
    h
}

const D: usize = 40_000;
const STEPS: usize = 3;

/// Hash of x after `STEPS` steps of `make()` on the separable loss, checked equal on 1 and 2
/// threads.
fn run<T: Real, O: Optimizer<T, Separable<T>>>(name: &str, make: impl Fn() -> O + Sync) -> u64 {
    let loss = Separable::<T>::new(D);
    let once = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut opt = make();
            let mut x = DVector::from_fn(D, |i, _| T::lit(((i % 7) as f64 - 3.0) * 0.3));
            for _ in 0..STEPS {
                opt.step(&mut x, &loss).unwrap();
            }
            hash(&x)
        })
    };
    let (one, two) = (once(1), once(2));
    assert_eq!(one, two, "{name}: 1 and 2 threads differ");
    one
}

fn cases<T: Real>() -> Vec<(&'static str, u64)> {
    let t = T::lit;
    vec![
        (
            "LocalEntropy (SGLD)",
            run::<T, _>("sgld", || {
                LocalEntropy::new(t(0.1))
                    .estimator(Sgld::paper().samples(20))
                    .seed(1)
            }),
        ),
        (
            "LocalEntropy (IS)",
            run::<T, _>("is", || {
                LocalEntropy::new(t(0.1))
                    .estimator(ImportanceSampling::new(64))
                    .seed(2)
            }),
        ),
        (
            "HeatRegularization (RM)",
            run::<T, _>("rm", || {
                HeatRegularization::new(t(0.1))
                    .solver(RobbinsMonro::paper().samples(4).iterations(5))
                    .seed(3)
            }),
        ),
        (
            "Entropy-SGD (scaled, Nesterov)",
            run::<T, _>("esgd", || {
                EntropySgd::with_oracle(
                    LocalEntropyGradient::with_estimator(
                        t(0.5),
                        ExponentialSgld::new(5).thermal_noise(t(1e-4)),
                    )
                    .scaled(true),
                    t(0.5),
                )
                .with_rule(Momentum::nesterov(t(0.9)))
                .seed(4)
            }),
        ),
        (
            "Entropy-SGD (data term)",
            run::<T, _>("esgd-rho", || {
                SmoothedOptimizer::with_oracle(
                    DataTerm::new(LocalEntropyGradient::new(t(0.5), 4), t(0.1)),
                    t(0.1),
                )
                .seed(5)
            }),
        ),
        (
            "HJ",
            run::<T, _>("hj", || HamiltonJacobi::new(t(0.5), 5, t(0.1)).seed(6)),
        ),
        (
            "HEAT",
            run::<T, _>("heat", || Heat::new(t(0.1), 3, t(0.1)).seed(7)),
        ),
        (
            "SAM",
            run::<T, _>("sam", || Sam::new(t(0.05), t(0.1)).seed(8)),
        ),
        (
            "GD + Adam",
            run::<T, _>("adam", || {
                GradientDescent::new(t(0.01))
                    .with_rule(Adam::standard())
                    .seed(9)
            }),
        ),
        (
            "Trivialized-SGD",
            run::<T, _>("triv", || {
                TrivializedSgd::new(t(0.5), 3, 100, t(20.0), t(0.05)).seed(10)
            }),
        ),
        (
            "Elastic-SGD",
            run::<T, _>("elastic", || {
                ElasticSgd::elastic(3, t(1.0), t(0.1)).seed(11)
            }),
        ),
        (
            "Parle",
            run::<T, _>("parle", || {
                Parle::with_oracle(
                    3,
                    LocalEntropyGradient::with_estimator(
                        t(0.5),
                        ExponentialSgld::new(4)
                            .langevin_step(t(0.1))
                            .thermal_noise(t(1e-4)),
                    )
                    .scaled(true),
                    t(1.0),
                    t(0.1),
                )
                .seed(12)
            }),
        ),
    ]
}

fn check(got: Vec<(&'static str, u64)>, recorded: &[(&str, u64)]) {
    let table: Vec<String> = got
        .iter()
        .map(|(n, h)| format!("(\"{n}\", {h:#018x}),"))
        .collect();
    assert_eq!(got.len(), recorded.len(), "cases:\n{}", table.join("\n"));
    for ((name, h), (rname, rh)) in got.iter().zip(recorded) {
        assert_eq!(name, rname);
        assert_eq!(h, rh, "{name}: bits changed; now:\n{}", table.join("\n"));
    }
}

#[test]
fn recorded_bits_f64() {
    check(
        cases::<f64>(),
        &[
            ("LocalEntropy (SGLD)", 0xe6ab80557f8269df),
            ("LocalEntropy (IS)", 0x42d1c48b9ca07f89),
            ("HeatRegularization (RM)", 0x99b12b359d0495df),
            ("Entropy-SGD (scaled, Nesterov)", 0xd80a9413172a29b5),
            ("Entropy-SGD (data term)", 0xd17a8b6b238d820d),
            ("HJ", 0xfe379dc2bb7c9481),
            ("HEAT", 0xd2a50c90b71e9312),
            ("SAM", 0x82a029a0bc4640f4),
            ("GD + Adam", 0xbdce864f95073dac),
            ("Trivialized-SGD", 0x76f3eeff0e41c583),
            ("Elastic-SGD", 0xf2c315b6157ae85a),
            ("Parle", 0x31d7f942dcb4b141),
        ],
    );
}

#[test]
fn recorded_bits_f32() {
    check(
        cases::<f32>(),
        &[
            ("LocalEntropy (SGLD)", 0xcea9438b74c76301),
            ("LocalEntropy (IS)", 0x9aa8a461f1318234),
            ("HeatRegularization (RM)", 0x005e746c92d66d17),
            ("Entropy-SGD (scaled, Nesterov)", 0xfb51f6e924201736),
            ("Entropy-SGD (data term)", 0xd0b2b5b4dff95352),
            ("HJ", 0xb3761f53e6bba07a),
            ("HEAT", 0xeef0da14a5439d82),
            ("SAM", 0x48d92aebb2dafd59),
            ("GD + Adam", 0x5002ab85c7ee5fce),
            ("Trivialized-SGD", 0xeee41898c966fae3),
            ("Elastic-SGD", 0x0530d8a8a11c43d2),
            ("Parle", 0x9fcaf254fb9027d6),
        ],
    );
}
