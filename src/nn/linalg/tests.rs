//! Every instruction set this CPU has (V4 and V3 on an AVX-512 machine, V3 here), and
//! `gemm::gemm` itself, against a plain triple loop, and the split (threaded) path against one
//! call: bit-identical wherever `Job::go` splits. The integration tests only reach the
//! instruction set `isa()` picks; these reach all that can run.

use super::isa::{isa, Isa};
use super::job::Job;
use super::split::{gemm_split_is_exact, split_is_exact, PAR_MIN_FLOPS};
use super::{cast, Mat};
use crate::Real;
use std::any::TypeId;

/// Deterministic test values in [−0.5, 0.5).
pub(super) fn fill(len: usize, seed: usize) -> Vec<f64> {
    (0..len)
        .map(|i| ((i * 7919 + seed * 104_729) % 1000) as f64 / 1000.0 - 0.5)
        .collect()
}

/// The kernels the tests can run here: each runnable instruction set, and `None` (every
/// product through `gemm::gemm`).
fn candidates() -> Vec<Option<Isa>> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    let mut v: Vec<Option<Isa>> = super::isa::runnable().into_iter().map(Some).collect();
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    let mut v = vec![];
    v.push(None);
    v
}

/// (m, k, n, transpose A, transpose B): the MLP's five products at B = 20, ∇W₁ at B = 1000
/// (k > 512, split exact), layer 0 of 784→64→10 at B = 128 and a ragged one (k > 512 with
/// halves ≤ 64: split exact only through the packed driver, which blocks the halves as the whole),
/// a tall one (m > 2 × 64: several V4 row tiles) and a tiny one (never split).
const SHAPES: [(usize, usize, usize, bool, bool); 10] = [
    (200, 784, 20, false, false),
    (10, 1000, 200, false, true),
    (10, 200, 20, false, false),
    (10, 20, 200, false, true),
    (200, 10, 20, true, false),
    (200, 20, 784, false, true),
    (64, 784, 128, false, false),
    (33, 600, 70, true, true),
    (301, 37, 45, false, false),
    (3, 5, 2, false, false),
];

/// C = α·A·B + β·C on `isa`'s kernels, threaded (split) or not, with C pre-filled.
fn product<U: Real>(
    isa: Option<Isa>,
    split: bool,
    (m, k, n, ta, tb): (usize, usize, usize, bool, bool),
    alpha: U,
    beta: U,
) -> Vec<U> {
    let conv = |v: Vec<f64>| v.into_iter().map(U::lit).collect::<Vec<U>>();
    let (a, b) = (conv(fill(m * k, 1)), conv(fill(k * n, 2)));
    let am = if ta {
        Mat::new(&a, k, m).t()
    } else {
        Mat::new(&a, m, k)
    };
    let bm = if tb {
        Mat::new(&b, n, k).t()
    } else {
        Mat::new(&b, k, n)
    };
    // β = 0 must not read C: NaN garbage there must not leak into the result.
    let init = if beta == U::zero() { f64::NAN } else { 0.25 };
    let mut c = vec![U::lit(init); m * n];
    unsafe {
        let id = TypeId::of::<U>();
        if id == TypeId::of::<f32>() {
            let job = Job::<f32> {
                isa,
                ..Job::new(
                    m,
                    k,
                    n,
                    cast(alpha),
                    &am,
                    &bm,
                    cast(beta),
                    c.as_mut_ptr().cast(),
                )
            };
            if split {
                job.split()
            } else {
                job.run()
            }
        } else {
            let job = Job::<f64> {
                isa,
                ..Job::new(
                    m,
                    k,
                    n,
                    cast(alpha),
                    &am,
                    &bm,
                    cast(beta),
                    c.as_mut_ptr().cast(),
                )
            };
            if split {
                job.split()
            } else {
                job.run()
            }
        }
    }
    c
}

fn check<U: Real>(tol: f64) {
    let isas = candidates();
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        assert!(isas.contains(&Some(Isa::V3)), "{isas:?}");
    }
    for isa in isas {
        for shape in SHAPES {
            let (m, k, n, ta, tb) = shape;
            let (a, b) = (fill(m * k, 1), fill(k * n, 2));
            // α = 1 is the only value the MLP uses; 1.5 checks the kernels' scaling too.
            for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (1.5, 1.0)] {
                let c = product::<U>(isa, false, shape, U::lit(alpha), U::lit(beta));
                for j in 0..n {
                    for i in 0..m {
                        let mut s = 0.0;
                        for p in 0..k {
                            let aip = if ta { a[p + i * k] } else { a[i + p * m] };
                            let bpj = if tb { b[j + p * n] } else { b[p + j * k] };
                            s += aip * bpj;
                        }
                        let want = alpha * s + beta * 0.25;
                        let got = c[i + j * m].as_f64();
                        assert!(
                            (got - want).abs() <= tol * (1.0 + s.abs()),
                            "{isa:?} {shape:?} α={alpha} β={beta} ({i},{j}): {got} vs {want}"
                        );
                    }
                }
                // The split is bit-identical wherever `go` uses it.
                if split_is_exact(isa, m, k, n) {
                    let halves = product::<U>(isa, true, shape, U::lit(alpha), U::lit(beta));
                    assert!(
                        c.iter()
                            .zip(&halves)
                            .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits()),
                        "{isa:?} {shape:?} α={alpha} β={beta}: split differs"
                    );
                }
            }
        }
    }
}

#[test]
fn every_runnable_kernel_set_matches_a_triple_loop_and_its_splits_are_bit_identical_f64() {
    check::<f64>(1e-12);
}

#[test]
fn every_runnable_kernel_set_matches_a_triple_loop_and_its_splits_are_bit_identical_f32() {
    check::<f32>(1e-4);
}

/// Every product of 784→200→10 at the benchmarked minibatches takes the one-fork split.
#[test]
fn every_mlp_product_splits_exactly() {
    for b in [20, 128, 1000] {
        for (m, k, n) in [
            (200, 784, b),
            (10, 200, b),
            (10, b, 200),
            (200, 10, b),
            (200, b, 784),
        ] {
            if 2 * m * k * n >= PAR_MIN_FLOPS {
                assert!(gemm_split_is_exact(m, k, n), "({m}, {k}, {n})");
            }
        }
    }
    // Through `gemm::gemm` the small-matrix path's depth blocks differ from the general
    // path's for k > 512; the packed driver (V3 or V4) blocks the halves as the whole product.
    for isa in [Some(Isa::V3), Some(Isa::V4)] {
        assert!(split_is_exact(isa, 33, 600, 70));
        assert!(split_is_exact(isa, 64, 784, 128));
    }
    assert!(!split_is_exact(None, 33, 600, 70));
    assert!(!split_is_exact(None, 64, 784, 128));
    assert_eq!(gemm_split_is_exact(33, 600, 70), isa().is_some());
    // Halves of ≤ 256 elements take the horizontal kernels: never split.
    assert!(!gemm_split_is_exact(10, 5000, 20));
}

/// The caller's hint decides the threading: inside the pool only a gradient told that a thread
/// is idle beside it splits (at the higher bar), never one told that every thread is busy.
#[test]
fn products_split_only_where_the_hint_allows() {
    use super::split::may_split;
    use crate::objective::Parallelism::*;
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    pool(2).install(|| {
        assert!(may_split(IdleThreadBeside).is_some_and(|min| min > PAR_MIN_FLOPS));
        assert_eq!(may_split(Unknown), None);
        assert_eq!(may_split(AllThreadsBusy), None);
    });
    pool(1).install(|| assert_eq!(may_split(IdleThreadBeside), None));
}
