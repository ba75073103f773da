//! "Hot loops allocate nothing per iteration": after a warm-up call, drawing minibatches and
//! evaluating the MLP's loss and gradient (with dropout) performs no heap allocation — the matrix
//! products keep their packing buffers in a reused thread-local (`src/nn/gemm_packed.rs`). On a
//! CPU with AVX-512F the products go to `matrixmultiply`, which allocates a packing buffer per
//! call: there the bound is one allocation per product. One test in this file: the counting
//! allocator sees every thread.

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
    // Products per iteration with 3 layers: forward 3, backward 3 (∇W) + 2 (δ) —
    // cost_and_gradient 8, gradient 8, cost 3. A few allocations of slack for the test harness's
    // own threads.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    let avx512 = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    let avx512 = false;
    let per_product = usize::from(avx512);
    let n = after - before;
    assert!(
        n <= per_product * (8 + 8 + 3) * ITERS + 16,
        "{n} allocations in {ITERS} iterations"
    );
}
