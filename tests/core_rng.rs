//! The Gaussian generator behind every Langevin step and Gaussian sample (issue 6: a fast,
//! seedable generator): its output is N(0, 1) to the precision the tests can resolve, and it is
//! reproducible from the seed.

use wide_valleys::rng;

/// Standard normal CDF Φ (a reference accurate to ~1e−14: A–S 7.1.26's 1e−7 would be too coarse
/// for a KS test at n = 2·10⁵).
fn phi(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// erfc: the Taylor series of erf for x < 2.5, the continued fraction of erfc beyond.
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        // erf x = 2/√π Σ (−1)ⁿ x^{2n+1} / (n! (2n+1))
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        // Lentz continued fraction: erfc x = e^{−x²}/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …))))
        let mut f = x;
        for k in (1..60).rev() {
            f = x + (k as f64 / 2.0) / f;
        }
        (-x * x).exp() / std::f64::consts::PI.sqrt() / f
    }
}

fn draw_f32(seed: u64, n: usize) -> Vec<f32> {
    let mut v = vec![0f32; n];
    rng::fill_standard_normal(&mut rng::seeded(seed), &mut v);
    v
}

#[test]
fn erfc_reference_is_accurate() {
    assert!((phi(0.0) - 0.5).abs() < 1e-15);
    assert!((phi(1.959_963_984_540_054) - 0.975).abs() < 1e-12);
    assert!((phi(-3.0) - 0.001_349_898_031_630_095).abs() < 1e-13);
}

#[test]
fn f32_moments_match_the_standard_normal() {
    let n = 1_000_000;
    let v = draw_f32(7, n);
    let nf = n as f64;
    let mean = v.iter().map(|&z| z as f64).sum::<f64>() / nf;
    let m2 = v.iter().map(|&z| (z as f64).powi(2)).sum::<f64>() / nf;
    let m3 = v.iter().map(|&z| (z as f64).powi(3)).sum::<f64>() / nf;
    let m4 = v.iter().map(|&z| (z as f64).powi(4)).sum::<f64>() / nf;
    // Standard errors: sd(mean) = 1/√n, sd(m2) = √2/√n, sd(m3) = √15/√n, sd(m4) = √96/√n; 5 σ.
    let se = 1.0 / nf.sqrt();
    assert!(mean.abs() < 5.0 * se, "mean {mean}");
    assert!((m2 - 1.0).abs() < 5.0 * 2f64.sqrt() * se, "E z² = {m2}");
    assert!(m3.abs() < 5.0 * 15f64.sqrt() * se, "E z³ = {m3}");
    assert!((m4 - 3.0).abs() < 5.0 * 96f64.sqrt() * se, "E z⁴ = {m4}");
}

#[test]
fn f32_passes_kolmogorov_smirnov_and_tail_frequencies() {
    let n = 200_000;
    let mut v: Vec<f64> = draw_f32(11, n).into_iter().map(f64::from).collect();
    v.sort_by(f64::total_cmp);
    let d = v
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            let f = phi(z);
            (f - i as f64 / n as f64).max((i + 1) as f64 / n as f64 - f)
        })
        .fold(0.0, f64::max);
    // Critical value at the 0.1 % level: 1.95/√n.
    assert!(d < 1.95 / (n as f64).sqrt(), "KS distance {d}");
    // Tails: P(|Z| > 3) = 0.0026998; binomial sd ≈ √(p/n).
    let p = 2.0 * phi(-3.0);
    let tail = v.iter().filter(|z| z.abs() > 3.0).count() as f64 / n as f64;
    assert!(
        (tail - p).abs() < 5.0 * (p / n as f64).sqrt(),
        "tail {tail} vs {p}"
    );
}

#[test]
fn neighbouring_variates_are_uncorrelated() {
    // The transform writes the cosine and sine variates of one pair 256 apart, and consecutive
    // pairs next to each other: neither lag may be correlated (5 σ = 5/√n).
    let n = 512 * 1000;
    let v = draw_f32(3, n);
    for lag in [1usize, 256, 512] {
        let c = v
            .iter()
            .zip(&v[lag..])
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum::<f64>()
            / (n - lag) as f64;
        assert!(c.abs() < 5.0 / ((n - lag) as f64).sqrt(), "lag {lag}: {c}");
        // Squares too (the pair shares its radius): E[z²w²] = 1 for independent variates.
        let c2 = v
            .iter()
            .zip(&v[lag..])
            .map(|(&a, &b)| (a as f64 * b as f64).powi(2))
            .sum::<f64>()
            / (n - lag) as f64;
        assert!(
            (c2 - 1.0).abs() < 5.0 * 8f64.sqrt() / ((n - lag) as f64).sqrt(),
            "lag {lag}: {c2}"
        );
    }
}

#[test]
fn same_seed_same_variates_other_stream_other_variates() {
    for n in [1usize, 2, 511, 512, 513, 1025, 159_010] {
        let a = draw_f32(5, n);
        assert_eq!(a, draw_f32(5, n), "n = {n}");
        assert!(a.iter().all(|z| z.is_finite() && z.abs() < 5.9));
        let mut b = vec![0f32; n];
        rng::fill_standard_normal(&mut rng::stream(5, 1), &mut b);
        if n > 1 {
            assert_ne!(a, b);
        }
    }
    let mut x = vec![0f64; 1000];
    let mut y = vec![0f64; 1000];
    rng::fill_standard_normal(&mut rng::seeded(9), &mut x);
    rng::fill_standard_normal(&mut rng::seeded(9), &mut y);
    assert_eq!(x, y);
    let m = x.iter().sum::<f64>() / 1000.0;
    assert!(m.abs() < 5.0 / 1000f64.sqrt());
}
