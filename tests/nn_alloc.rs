//! "Hot loops allocate nothing per iteration": after a warm-up call, drawing minibatches and
//! evaluating the MLP's loss and gradient (with dropout) performs no heap allocation of its own —
//! the only ones left are the `gemm` crate's, at most two per matrix product (a packing buffer and
//! a small bookkeeping vector: a limitation of that crate's API). One test in this file: the
//! counting allocator sees every thread.

use nalgebra::DVector;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wide_valleys::data::synthetic::Blobs;
use wide_valleys::nn::{Mlp, MlpObjective};
use wide_valleys::{rng, Batch, Cost, Gradient};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ITERS: usize = 200;

#[test]
fn minibatch_loss_and_gradient_allocate_only_the_gemm_packing_buffers() {
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
    let before = ALLOCS.load(Ordering::SeqCst);
    let mut total = 0.0f32;
    for _ in 0..ITERS {
        f.draw_batch(&mut r, &mut batch);
        total += f.cost_and_gradient(&x, &batch, &mut g);
        f.gradient(&x, &batch, &mut g);
        total += f.cost(&x, &batch);
        x.axpy(-0.05, &g, 1.0);
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    assert!(total.is_finite());
    // The crate's own code allocates nothing; the GEMM (`gemm` 0.18, single-threaded at these
    // sizes) mallocs at most a packing buffer and a `did_pack_lhs` vector per product. Products
    // per iteration with 3 layers: forward 3, backward 3 (∇W) + 2 (δ) — cost_and_gradient 8,
    // gradient 8, cost 3. A few allocations of slack for the test harness's own threads.
    let per_iter = 2 * (8 + 8 + 3);
    let n = after - before;
    assert!(
        n <= per_iter * ITERS + 16,
        "{n} allocations in {ITERS} iterations: more than two per matrix product"
    );
}
