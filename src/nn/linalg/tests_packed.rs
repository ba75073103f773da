//! The allocation-free packed driver (`packed.rs`) against `gemm::gemm` itself: bit-identical
//! on every operand layout, the kernel set each CPU actually runs, and the blocking of the halves
//! of a split product.

use super::isa::{isa, Isa};
use super::split::PAR_MIN_FLOPS;
use super::tests::fill;
use super::{gemm, packed, Mat};
use crate::Real;
use gemm::Parallelism;

/// `packed::gemm` (the allocation-free driver) on this CPU's instruction set (`isa()`, the
/// one `gemm` dispatches to: V3 here, V4 on an AVX-512 machine) against `gemm::gemm` on one
/// thread: the same bits for every layout of A and B, C alone or inside a taller matrix,
/// with and without reading C, on the MLP's products at B = 20 / 128 / 1000 and on ragged
/// shapes, both through the main path (counted: the comparison must actually exercise it)
/// and through the paths it hands back to `gemm`.
fn packed_matches_gemm<U: Real>() {
    let isa = isa();
    assert!(isa.is_some(), "no AVX2+FMA: nothing to compare");
    let mut shapes = vec![];
    for b in [20, 128, 1000] {
        shapes.extend([
            (200, 784, b),
            (10, 200, b),
            (10, b, 200),
            (200, 10, b),
            (200, b, 784),
        ]);
    }
    for m in [1, 2, 7, 16, 33, 70, 130] {
        for k in [1, 3, 9, 600] {
            for n in [1, 5, 13, 100] {
                shapes.push((m, k, n));
            }
        }
    }
    let runs_before = packed::MAIN_PATH_RUNS.with(|c| c.get());
    let (mut main, mut other) = (0, 0);
    for (m, k, n) in shapes {
        let conv = |v: Vec<f64>| v.into_iter().map(U::lit).collect::<Vec<U>>();
        let (a, b) = (conv(fill(m * k, 3)), conv(fill(k * n, 4)));
        for (ta, tb, ldc) in [
            (false, false, m),
            (true, false, m),
            (false, true, m),
            (true, true, m),
            // C inside a taller matrix (column stride > m), as a row half of `Job::split`.
            (false, false, m + 3),
            (true, true, m + 3),
        ] {
            let c0 = conv(fill(ldc * n, 5));
            // (column stride, row stride) of A (m × k) and B (k × n).
            let (csa, rsa) = if ta { (1, k) } else { (m, 1) };
            let (csb, rsb) = if tb { (1, n) } else { (k, 1) };
            for (read, scale) in [(false, 0.0), (true, 1.0), (true, 0.5)] {
                let (alpha, beta) = (U::lit(scale), U::lit(1.25));
                let mut want = c0.clone();
                let mut got = c0.clone();
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        want.as_mut_ptr(),
                        ldc as isize,
                        1,
                        read,
                        a.as_ptr(),
                        csa as isize,
                        rsa as isize,
                        b.as_ptr(),
                        csb as isize,
                        rsb as isize,
                        alpha,
                        beta,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                    packed::gemm(
                        isa,
                        m,
                        n,
                        k,
                        (m, n),
                        got.as_mut_ptr(),
                        ldc,
                        read,
                        a.as_ptr(),
                        csa,
                        rsa,
                        b.as_ptr(),
                        csb,
                        rsb,
                        alpha,
                        beta,
                    );
                }
                assert!(
                    want.iter()
                        .zip(&got)
                        .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits()),
                    "{isa:?} ({m}, {k}, {n}) ta={ta} tb={tb} ldc={ldc} read={read} α={scale}: differs"
                );
                if packed::takes_main_path(m, n, k, ldc, csa, rsa, csb, rsb) {
                    main += 1;
                } else {
                    other += 1;
                }
            }
        }
    }
    assert!(
        main > 900 && other > 150,
        "main path {main}, others {other}"
    );
    // Every main-path product ran on `isa`'s kernels, none on the other set's.
    let runs = packed::MAIN_PATH_RUNS.with(|c| c.get());
    let ran = [runs[0] - runs_before[0], runs[1] - runs_before[1]];
    let want = if isa == Some(Isa::V4) {
        [0, main]
    } else {
        [main, 0]
    };
    assert_eq!(ran, want, "{isa:?}: [V3, V4] runs");
}

#[test]
fn allocation_free_driver_is_bit_identical_to_gemm_f32() {
    packed_matches_gemm::<f32>();
}

#[test]
fn allocation_free_driver_is_bit_identical_to_gemm_f64() {
    packed_matches_gemm::<f64>();
}

/// Main-path products run on [V3, V4] kernels by the MLP's five products (f32 and f64) at
/// B = 20 and 128, through the crate's own entry [`gemm`], in a one-thread pool (so that
/// nothing is split onto another thread and this thread's counters see every product).
fn kernels_run_by_mlp_products() -> [usize; 2] {
    fn five<U: Real>(b: usize) {
        for (m, k, n, ta, tb) in [
            (200, 784, b, false, false),
            (10, 200, b, false, false),
            (10, b, 200, false, true),
            (200, 10, b, true, false),
            (200, b, 784, false, true),
        ] {
            let (a, x) = (vec![U::lit(0.5); m * k], vec![U::lit(0.25); k * n]);
            let am = if ta {
                Mat::new(&a, k, m).t()
            } else {
                Mat::new(&a, m, k)
            };
            let bm = if tb {
                Mat::new(&x, n, k).t()
            } else {
                Mat::new(&x, k, n)
            };
            let mut c = vec![U::zero(); m * n];
            gemm(
                U::one(),
                am,
                bm,
                U::zero(),
                &mut c,
                crate::objective::Parallelism::Unknown,
            );
            let want = U::lit(0.125 * k as f64);
            assert!(c.iter().all(|&v| v == want), "({m}, {k}, {n})");
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let before = packed::MAIN_PATH_RUNS.with(|c| c.get());
        for b in [20, 128] {
            five::<f32>(b);
            five::<f64>(b);
        }
        let after = packed::MAIN_PATH_RUNS.with(|c| c.get());
        [after[0] - before[0], after[1] - before[1]]
    })
}

/// On a CPU with AVX-512F (an AVX-512 CI machine) every MLP product runs `gemm`'s AVX-512
/// kernels through the packed driver — fails there if any takes another path; without AVX-512F,
/// none does.
#[test]
fn avx512f_cpus_run_every_mlp_product_on_the_v4_kernels() {
    let runs = kernels_run_by_mlp_products();
    if std::arch::is_x86_feature_detected!("avx512f") {
        assert_eq!(isa(), Some(Isa::V4));
        assert_eq!(runs, [0, 20], "[V3, V4] main-path runs of 20 MLP products");
    } else {
        assert_ne!(isa(), Some(Isa::V4));
        assert_eq!(runs[1], 0, "V4 kernels ran without AVX-512F");
    }
}

/// On a CPU with AVX2+FMA and no AVX-512F (this one) every MLP product runs `gemm`'s AVX2
/// kernels through the packed driver.
#[test]
fn avx2_cpus_without_avx512f_run_every_mlp_product_on_the_v3_kernels() {
    use std::arch::is_x86_feature_detected as has;
    let runs = kernels_run_by_mlp_products();
    if has!("avx2") && has!("fma") && !has!("avx512f") {
        assert_eq!(isa(), Some(Isa::V3));
        assert_eq!(runs, [20, 0], "[V3, V4] main-path runs of 20 MLP products");
    } else if has!("avx512f") {
        assert_eq!(runs[0], 0, "V3 kernels ran on an AVX-512F CPU");
    }
}

/// The halves of every split MLP product get exactly `gemm`'s own blocking for their shape
/// (the whole's depth blocks agree with theirs), so splitting costs no kernel efficiency, on
/// V3 (MR = 16 / 8) and V4 (MR = 64 / 32); for (64, 784, 128) they take the whole's depth
/// blocks, which differ from their own.
#[test]
fn split_halves_keep_gemm_blocking_on_mlp_products() {
    let params = |m, n, k, whole| {
        let f = packed::blocking::<f32, 16, 6>(m, n, k, whole);
        let d = packed::blocking::<f64, 8, 6>(m, n, k, whole);
        let f4 = packed::blocking::<f32, 64, 6>(m, n, k, whole);
        let d4 = packed::blocking::<f64, 32, 6>(m, n, k, whole);
        [f, d, f4, d4].map(|p| (p.kc, p.mc, p.nc))
    };
    for b in [20, 128, 1000] {
        for (m, k, n) in [
            (200, 784, b),
            (10, 200, b),
            (10, b, 200),
            (200, 10, b),
            (200, b, 784),
        ] {
            if 2 * m * k * n < PAR_MIN_FLOPS {
                continue;
            }
            let halves = if m >= n {
                [(m / 2, n), (m - m / 2, n)]
            } else {
                [(m, n / 2), (m, n - n / 2)]
            };
            for (hm, hn) in halves {
                assert_eq!(
                    params(hm, hn, k, (m, n)),
                    params(hm, hn, k, (hm, hn)),
                    "({m}, {k}, {n}) half {hm}×{hn}"
                );
            }
        }
    }
    let (own, whole) = (
        packed::blocking::<f32, 16, 6>(64, 64, 784, (64, 64)),
        packed::blocking::<f32, 16, 6>(64, 64, 784, (64, 128)),
    );
    assert_eq!(own.kc, 512);
    assert_ne!(whole.kc, own.kc);
    assert_eq!(
        whole.kc,
        packed::blocking::<f32, 16, 6>(64, 128, 784, (64, 128)).kc
    );
}
