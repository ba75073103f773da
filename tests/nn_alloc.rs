//! "Hot loops allocate nothing per iteration": after a warm-up call, drawing minibatches and
//! evaluating the MLP's loss and gradient (with dropout) performs no heap allocation — the matrix
//! products keep their packing buffers in a reused thread-local (`src/nn/linalg/packed.rs`), with
//! `gemm`'s AVX2 kernels or, on AVX-512 CPUs, its AVX-512 ones: zero on every CPU, no slack.
//!
//! The counting allocator counts per thread (a `const` thread-local, which never allocates): the
//! count is this test's thread plus every worker of rayon's global pool (read with `broadcast`),
//! so the test harness's own threads (output capture) cannot blur it.

use nalgebra::DVector;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use wide_valleys::data::synthetic::Blobs;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Cost, Gradient};

struct Counting;

thread_local! {
    /// Allocations (alloc, alloc_zeroed, realloc) made by this thread so far.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn record() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        record();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        record();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        record();
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ITERS: usize = 200;

/// Allocations so far by rayon's global workers, then by this thread (`broadcast` allocates on
/// the calling thread: read the workers first, so a window read as (workers, here) … (workers,
/// here) excludes the first read's own allocations and includes the second's before it counts).
fn counts() -> (usize, usize) {
    let workers = rayon::broadcast(|_| ALLOCS.with(Cell::get)).iter().sum();
    (workers, ALLOCS.with(Cell::get))
}

#[test]
fn minibatch_loss_and_gradient_allocate_nothing() {
    let task = Blobs {
        train: 500,
        test: 10,
        ..Blobs::default()
    }
    .generate::<f32>(1)
    .unwrap();
    let mlp = Mlp::new(&[32, 24, 16, 10])
        .unwrap()
        .with_dropout(0.3)
        .unwrap();
    let f = MlpObjective::new(mlp, Arc::new(task.train), 20).unwrap();
    let mut r = rng::seeded(2);
    let mut x = f.init(&mut r);
    let mut g = DVector::zeros(f.dim());
    let mut batch = Batch::Full;
    // Warm-up: the workspace pool, the batch's index buffer.
    f.draw_batch(&mut r, &mut batch);
    f.cost_and_gradient(&x, &batch, &mut g);
    let (workers_before, here_before) = counts();
    let mut total = 0.0f32;
    for _ in 0..ITERS {
        f.draw_batch(&mut r, &mut batch);
        total += f.cost_and_gradient(&x, &batch, &mut g);
        f.gradient(&x, &batch, &mut g);
        total += f.cost(&x, &batch);
        x.axpy(-0.05, &g, 1.0);
    }
    // Here first: the workers' read allocates here.
    let here = ALLOCS.with(Cell::get) - here_before;
    let workers = counts().0 - workers_before;
    assert!(total.is_finite());
    // 19 products per iteration (3 layers: cost_and_gradient 8, gradient 8, cost 3) and the
    // rest of each pass: nothing may allocate, on this thread or on rayon's workers.
    assert_eq!(
        (here, workers),
        (0, 0),
        "allocations (this thread, rayon workers) in {ITERS} iterations"
    );
}
