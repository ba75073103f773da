//! Hot loops allocate nothing: after the first step (which sizes the buffers), further steps of
//! every optimizer make zero heap allocations (counted by a global allocator).

use nalgebra::{DMatrix, DVector};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use wide_valleys::objectives::Quadratic;
use wide_valleys::optimizers::*;
use wide_valleys::update::{Adam, Momentum, WeightDecay};
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
    let d = 8;
    let q = Quadratic::new(
        DMatrix::from_fn(d, d, |i, j| if i == j { 2.0 } else { 0.1 }),
        DVector::from_element(d, 0.3),
    );
    let mut x = DVector::from_element(d, 1.0);
    for _ in 0..3 {
        opt.step(&mut x, &q).unwrap();
    }
    COUNT.store(0, Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    for _ in 0..20 {
        opt.step(&mut x, &q).unwrap();
    }
    ON.store(false, Ordering::SeqCst);
    COUNT.load(Ordering::SeqCst)
}

// One test only: the counter is global, tests in one binary would run concurrently.
#[test]
fn steps_do_not_allocate() {
    let sched = || {
        Schedule::geometric(0.5, 0.99)
            .unwrap()
            .clipped(0.1, 1.0)
            .unwrap()
    };
    // Pools are built before counting and dropped after it: their worker threads' start-up and
    // shutdown would otherwise be counted.
    let mut parle = Parle::new(3, sched(), 1.0, 5, 0.1)
        .unwrap()
        .threads(1)
        .unwrap();
    let mut elastic = ElasticSgd::new(3, 1.0, 0.1).unwrap().threads(1).unwrap();
    let cases: Vec<(&str, usize)> = vec![
        ("GD", allocations(&mut GradientDescent::new(0.1).unwrap())),
        (
            "GD+Adam+decay",
            allocations(
                &mut GradientDescent::new(0.1)
                    .unwrap()
                    .with_rule(WeightDecay::new(Adam::standard(), 1e-3).unwrap()),
            ),
        ),
        (
            "Entropy-SGD",
            allocations(
                &mut EntropySgd::new(sched(), 5, 0.1)
                    .unwrap()
                    .thermal_noise(1e-2)
                    .unwrap()
                    .data_weight(0.1)
                    .unwrap(),
            ),
        ),
        (
            "Entropy-SGD+Nesterov",
            allocations(
                &mut EntropySgd::new(0.5, 5, 0.1)
                    .unwrap()
                    .with_rule(Momentum::nesterov(0.9).unwrap()),
            ),
        ),
        (
            "HJ",
            allocations(&mut HamiltonJacobi::new(0.5, 5, 0.1).unwrap()),
        ),
        ("HEAT", allocations(&mut Heat::new(0.1, 5, 0.1).unwrap())),
        ("SAM", allocations(&mut Sam::new(0.05, 0.1).unwrap())),
        (
            "Trivialized-SGD",
            allocations(&mut TrivializedSgd::new(0.1, 3, 4, 10.0, 0.1).unwrap()),
        ),
        ("Parle (1 thread)", allocations(&mut parle)),
        ("Elastic-SGD (1 thread)", allocations(&mut elastic)),
    ];
    for (name, n) in &cases {
        eprintln!("{name}: {n} allocations in 20 steps");
    }
    assert!(cases.iter().all(|(_, n)| *n == 0), "{cases:?}");
}
