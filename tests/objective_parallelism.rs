//! The parallelism hints travel explicitly (objective::Parallelism): a loss that records the hint
//! of every gradient call sees "a thread is idle beside you" from a sampler that draws its noise
//! beside the gradient, and "every thread is busy" inside Parle's replicas when every thread runs
//! replicas of its own. Ignoring or dropping the hint anywhere on the way fails these tests.

use nalgebra::DVector;
use std::sync::Mutex;
use wide_valleys::kl::RobbinsMonro;
use wide_valleys::objective::Parallelism;
use wide_valleys::optim::{InProcess, Parle};
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::sampling::Sgld;
use wide_valleys::smoothing::LocalEntropyGradient;
use wide_valleys::{Batch, Cost, Gradient, HeatRegularization, LocalEntropy, Optimizer};

/// ½|x|², recording the hint of every gradient (`None`: called without one).
struct Recording {
    d: usize,
    seen: Mutex<Vec<Option<Parallelism>>>,
}

impl Recording {
    fn new(d: usize) -> Self {
        Self {
            d,
            seen: Mutex::new(Vec::new()),
        }
    }
    fn seen(&self) -> Vec<Option<Parallelism>> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Cost<f64> for Recording {
    fn dim(&self) -> usize {
        self.d
    }
    fn cost(&self, x: &DVector<f64>, _: &Batch) -> f64 {
        0.5 * x.norm_squared()
    }
}

impl Gradient<f64> for Recording {
    fn gradient(&self, x: &DVector<f64>, _: &Batch, grad: &mut DVector<f64>) {
        self.seen.lock().unwrap().push(None);
        grad.copy_from(x);
    }
    fn gradient_with(&self, x: &DVector<f64>, _: &Batch, g: &mut DVector<f64>, p: Parallelism) {
        self.seen.lock().unwrap().push(Some(p));
        g.copy_from(x);
    }
}

/// Hints seen in two steps of `opt` on a 2-thread pool, d = 40 000 (three noise blocks).
fn hints(d: usize, mut opt: impl Optimizer<f64, Recording> + Send) -> Vec<Option<Parallelism>> {
    let loss = Recording::new(d);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        let mut x = DVector::from_element(d, 0.5);
        for _ in 0..2 {
            opt.step(&mut x, &loss).unwrap();
        }
    });
    loss.seen()
}

const D: usize = 40_000;

fn count(seen: &[Option<Parallelism>], p: Parallelism) -> usize {
    seen.iter().filter(|&&s| s == Some(p)).count()
}

#[test]
fn sgld_tells_its_gradient_that_a_thread_is_idle_beside_it() {
    let sgld = LocalEntropy::new(0.1)
        .estimator(Sgld::paper().samples(5))
        .seed(1);
    let seen = hints(D, sgld);
    assert_eq!(count(&seen, Parallelism::IdleThreadBeside), 10, "{seen:?}");
    assert_eq!(count(&seen, Parallelism::AllThreadsBusy), 0);
}

#[test]
fn robbins_monro_tells_its_gradient_that_a_thread_is_idle_beside_it() {
    let rm = HeatRegularization::new(0.1)
        .solver(RobbinsMonro::paper().samples(2).iterations(3))
        .seed(2);
    let seen = hints(D, rm);
    assert!(
        count(&seen, Parallelism::IdleThreadBeside) >= 12,
        "{seen:?}"
    );
    assert_eq!(count(&seen, Parallelism::AllThreadsBusy), 0);
}

#[test]
fn a_short_vector_runs_its_gradient_alone_and_says_nothing() {
    let sgld = LocalEntropy::new(0.1)
        .estimator(Sgld::paper().samples(5))
        .seed(1);
    let seen = hints(100, sgld);
    assert!(!seen.is_empty());
    assert_eq!(count(&seen, Parallelism::IdleThreadBeside), 0, "{seen:?}");
    assert_eq!(count(&seen, Parallelism::AllThreadsBusy), 0);
}

fn parle(replicas: usize) -> impl Optimizer<f64, Recording> + Send {
    Parle::with_oracle(
        replicas,
        LocalEntropyGradient::with_estimator(
            0.5,
            ExponentialSgld::new(4)
                .langevin_step(0.1)
                .thermal_noise(1e-4),
        )
        .scaled(true),
        1.0,
        0.1,
    )
    .seed(3)
    .transport(InProcess::with_threads(2).unwrap())
}

#[test]
fn parle_tells_every_gradient_of_its_replicas_that_all_threads_are_busy() {
    for replicas in [2, 3] {
        let seen = hints(D, parle(replicas));
        // L = 4 Langevin gradients per replica and outer step.
        assert_eq!(seen.len(), 2 * 4 * replicas, "{seen:?}");
        assert!(
            seen.iter().all(|&s| s == Some(Parallelism::AllThreadsBusy)),
            "{replicas} replicas: {seen:?}"
        );
    }
}

#[test]
fn one_parle_replica_on_two_threads_leaves_a_thread_idle_beside_it() {
    let seen = hints(D, parle(1));
    assert_eq!(seen.len(), 2 * 4, "{seen:?}");
    assert_eq!(count(&seen, Parallelism::IdleThreadBeside), 8, "{seen:?}");
}
