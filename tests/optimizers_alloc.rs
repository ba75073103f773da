//! Hot loops allocate nothing: after the first step (which sizes the buffers), further steps of
//! every optimizer make zero heap allocations (counted by a global allocator).

use nalgebra::{DMatrix, DVector};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use wide_valleys::objectives::Quadratic;
use wide_valleys::optim::*;
use wide_valleys::sampling::ExponentialSgld;
use wide_valleys::smoothing::*;
use wide_valleys::update::{Adam, Momentum, WeightDecay};
use wide_valleys::Optimizer;
use wide_valleys::Schedule;

struct Counting;
static COUNT: AtomicUsize = AtomicUsize::new(0);
static ON: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ON.load(Ordering::SeqCst) {
            COUNT.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations<Op: Optimizer<f64, Quadratic<f64>>>(opt: &mut Op) -> usize {
    allocations_in(opt, 20)
}

/// Heap allocations (all threads) during `steps` steps after 3 warm-up steps.
fn allocations_in<Op: Optimizer<f64, Quadratic<f64>>>(opt: &mut Op, steps: usize) -> usize {
    let d = 8;
    let q = Quadratic::new(
        DMatrix::from_fn(d, d, |i, j| if i == j { 2.0 } else { 0.1 }),
        DVector::from_element(d, 0.3),
    )
    .unwrap();
    let mut x = DVector::from_element(d, 1.0);
    for _ in 0..3 {
        opt.step(&mut x, &q).unwrap();
    }
    COUNT.store(0, Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    for _ in 0..steps {
        opt.step(&mut x, &q).unwrap();
    }
    ON.store(false, Ordering::SeqCst);
    COUNT.load(Ordering::SeqCst)
}

// One test only: the counter is global, tests in one binary would run concurrently.
#[test]
fn steps_do_not_allocate() {
    let sched = || Schedule::geometric(0.5, 0.99).clipped(0.1, 1.0);
    // The pools' worker threads allocate when they start (asynchronously) and when they stop:
    // each pool is built and warmed up (inside `allocations`) before the next measurement, and
    // all are dropped only at the end.
    let mut parle = Parle::new(3, sched(), 1.0, 5, 0.1).threads(1).unwrap();
    let parle_allocs = allocations_in(&mut parle, 200);
    let mut elastic = ElasticSgd::elastic(3, 1.0, 0.1).threads(1).unwrap();
    let elastic_allocs = allocations_in(&mut elastic, 200);
    let cases: Vec<(&str, usize)> = vec![
        ("GD", allocations(&mut GradientDescent::new(0.1))),
        (
            "GD+Adam+decay",
            allocations(
                &mut GradientDescent::new(0.1).with_rule(WeightDecay::new(Adam::standard(), 1e-3)),
            ),
        ),
        (
            "Entropy-SGD",
            allocations(&mut SmoothedOptimizer::with_oracle(
                DataTerm::new(
                    LocalEntropyGradient::with_estimator(
                        sched(),
                        ExponentialSgld::new(5).thermal_noise(1e-2),
                    ),
                    0.1,
                ),
                0.1,
            )),
        ),
        (
            "Entropy-SGD+Nesterov",
            allocations(&mut EntropySgd::new(0.5, 5, 0.1).with_rule(Momentum::nesterov(0.9))),
        ),
        ("HJ", allocations(&mut HamiltonJacobi::new(0.5, 5, 0.1))),
        ("HEAT", allocations(&mut Heat::new(0.1, 5, 0.1))),
        ("SAM", allocations(&mut Sam::new(0.05, 0.1))),
        (
            "Trivialized-SGD",
            allocations(&mut TrivializedSgd::new(0.1, 3, 4, 10.0, 0.1)),
        ),
    ];
    for (name, n) in &cases {
        eprintln!("{name}: {n} allocations in 20 steps");
    }
    assert!(cases.iter().all(|(_, n)| *n == 0), "{cases:?}");
    // Parle's own buffers are reused too; what remains is rayon's job injector, which grows in
    // blocks of 63 jobs (two jobs per step): amortized, far below one allocation per step.
    eprintln!("Parle: {parle_allocs}, Elastic-SGD: {elastic_allocs} allocations in 200 steps");
    assert!(
        parle_allocs <= 30 && elastic_allocs <= 30,
        "{parle_allocs} {elastic_allocs}"
    );
}
