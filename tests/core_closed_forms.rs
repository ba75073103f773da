//! Closed forms (shared/DESIGN.md) against every estimator of the core, each with a tolerance
//! derived from its sample count (exact asymptotic variances, not hand-tuned slack).

use nalgebra::{DMatrix, DVector};
use wide_valleys::kl::{GaussianExpectation, ModeSeekingSolver, RobbinsMonro};
use wide_valleys::objective::Counts;
use wide_valleys::objectives::{GaussianMixture, Quadratic};
use wide_valleys::regularized::{heat_quadrature, local_entropy_quadrature, MonteCarlo};
use wide_valleys::rng::seeded;
use wide_valleys::sampling::{ImportanceSampling, MeanEstimator, Quadrature, Sgld};
use wide_valleys::{Batch, Cost, Counted, FnCost, Gradient};

/// ∫ g(y) N(y; x, τ) dy in 1-D by a fine grid (test-side reference, independent of the crate).
fn gauss_1d(x: f64, tau: f64, g: impl Fn(f64) -> f64) -> f64 {
    let n = 20001;
    let a = 12.0 * tau.sqrt();
    let h = 2.0 * a / (n - 1) as f64;
    let mut s = 0.0;
    for i in 0..n {
        let u = -a + h * i as f64;
        s += (-u * u / (2.0 * tau)).exp() * g(x + u);
    }
    s * h / (2.0 * std::f64::consts::PI * tau).sqrt()
}

/// A diagonal quadratic ½Σλᵢyᵢ² + Σbᵢyᵢ in dimension d.
fn diag_quadratic(lambdas: &[f64], b: &[f64]) -> Quadratic<f64> {
    Quadratic::new(
        DMatrix::from_diagonal(&DVector::from_column_slice(lambdas)),
        DVector::from_column_slice(b),
    )
    .unwrap()
}

#[test]
fn quadrature_matches_mixture_local_entropy_and_mean_1d_and_2d() {
    let mix = GaussianMixture::<f64>::wide_and_sharp();
    let mut quad = Quadrature::new(801, 10.0);
    let mut rng = seeded(0);
    for &tau in &[0.05, 0.5, 2.0] {
        for &x0 in &[-3.0, -2.0, 0.0, 0.7, 1.5, 4.0] {
            let x = DVector::from_element(1, x0);
            let f = local_entropy_quadrature(&quad, &x, tau, &mix).unwrap();
            assert!(
                (f - mix.local_entropy(&x, tau)).abs() < 1e-10,
                "F_tau at {x0}, {tau}"
            );
            let mut m = DVector::zeros(1);
            quad.estimate(&x, tau, &mix, &mut rng, &mut m).unwrap();
            let exact = mix.local_entropy_mean(&x, tau);
            assert!(
                (m[0] - exact[0]).abs() < 1e-10,
                "E_q at {x0}, {tau}: {} vs {}",
                m[0],
                exact[0]
            );
        }
    }
    let mix2 = GaussianMixture::new(
        vec![0.2, 0.5, 0.3],
        vec![
            DVector::from_vec(vec![-1.0, 2.0]),
            DVector::from_vec(vec![1.0, 0.0]),
            DVector::from_vec(vec![0.0, -2.0]),
        ],
        vec![0.3, 1.0, 0.6],
    );
    let mut quad2 = Quadrature::new(241, 10.0);
    for &tau in &[0.3, 1.0] {
        let x = DVector::from_vec(vec![0.4, -0.3]);
        let f = quad2.local_entropy(&x, tau, &mix2).unwrap();
        assert!((f - mix2.local_entropy(&x, tau)).abs() < 1e-9);
        let mut m = DVector::zeros(2);
        quad2.estimate(&x, tau, &mix2, &mut rng, &mut m).unwrap();
        assert!((m - mix2.local_entropy_mean(&x, tau)).norm() < 1e-9);
    }
}

#[test]
fn quadrature_heat_and_quadratic_mean_match_closed_forms_2d() {
    let q = Quadratic::new(
        DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 1.0]),
        DVector::from_vec(vec![1.0, -1.0]),
    )
    .unwrap();
    let mut quad = Quadrature::new(121, 10.0);
    let x = DVector::from_vec(vec![0.3, 0.8]);
    for &tau in &[0.1, 1.0, 3.0] {
        let h = heat_quadrature(&quad, &x, tau, &q).unwrap();
        assert!(
            (h - q.heat(&x, tau)).abs() < 1e-10,
            "F^H_tau = f + tau tr(A)/2"
        );
        let mut m = DVector::zeros(2);
        quad.estimate(&x, tau, &q, &mut seeded(0), &mut m).unwrap();
        assert!(
            (m - q.local_entropy_mean(&x, tau)).norm() < 1e-10,
            "E_q = (A + I/tau)^-1 (x/tau - b)"
        );
        let mut g = DVector::zeros(2);
        quad.gaussian_mean_gradient(&x, tau, &q, &mut g).unwrap();
        let mut g0 = DVector::zeros(2);
        q.gradient(&x, &Batch::Full, &mut g0);
        assert!((g - g0).norm() < 1e-10, "grad F^H = grad f for a quadratic");
    }
}

/// Self-normalised IS asymptotic standard deviation of the estimate and the ESS ratio:
/// σ² = E_φ[w²(y − μ)²] / (E_φ w)² / J, ESS/J → (E_φ w)²/E_φ w² (1-D, reference grid).
fn snis_sd_1d(f: &dyn Fn(f64) -> f64, x: f64, tau: f64, mu: f64, j: usize) -> (f64, f64) {
    let ew = gauss_1d(x, tau, |y| (-f(y)).exp());
    let ew2 = gauss_1d(x, tau, |y| (-2.0 * f(y)).exp());
    let num = gauss_1d(x, tau, |y| (-2.0 * f(y)).exp() * (y - mu) * (y - mu));
    ((num / (ew * ew) / j as f64).sqrt(), ew * ew / ew2)
}

#[test]
fn importance_sampling_matches_mixture_mean_1d_within_derived_sd() {
    let mix = GaussianMixture::<f64>::wide_and_sharp();
    let f = |y: f64| mix.cost(&DVector::from_element(1, y), &Batch::Full);
    let j = 20_000;
    let mut is = ImportanceSampling::new(j);
    let mut rng = seeded(11);
    for &(x0, tau) in &[(0.0, 0.5), (-1.5, 0.3), (1.0, 1.0)] {
        let x = DVector::from_element(1, x0);
        let exact = mix.local_entropy_mean(&x, tau)[0];
        let (sd, ess_ratio) = snis_sd_1d(&f, x0, tau, exact, j);
        let mut m = DVector::zeros(1);
        let diag = is.estimate(&x, tau, &mix, &mut rng, &mut m).unwrap();
        assert!(
            (m[0] - exact).abs() < 5.0 * sd,
            "IS {} vs {exact} (sd {sd})",
            m[0]
        );
        let ess = diag.ess.unwrap();
        assert!(
            (ess / j as f64 - ess_ratio).abs() < 0.1 * ess_ratio,
            "ESS {ess} vs {}",
            ess_ratio * j as f64
        );
        // log mean weight estimates −F_τ; delta-method sd sqrt(E w²/(E w)² − 1)/√J.
        let lmw = -diag.loss.unwrap();
        let sd_log = ((1.0 / ess_ratio - 1.0) / j as f64).sqrt();
        assert!((lmw + mix.local_entropy(&x, tau)).abs() < 5.0 * sd_log + 1e-12);
    }
}

#[test]
fn importance_sampling_matches_quadratic_mean_in_dimension_10_with_ess() {
    let d = 10;
    let lambdas: Vec<f64> = (0..d).map(|i| 0.5 + 0.15 * i as f64).collect();
    let b: Vec<f64> = (0..d).map(|i| 0.3 * ((i as f64) - 4.5) / 4.5).collect();
    let q = diag_quadratic(&lambdas, &b);
    let tau = 0.1;
    let x = DVector::from_fn(d, |i, _| 0.5 - 0.1 * i as f64);
    let exact = q.local_entropy_mean(&x, tau);
    // Separable weights: E_φ[w²(yᵢ−μᵢ)²]/(E_φ w)² = [1-D factor i] · Π_{l≠i} E w_l²/(E w_l)².
    let mut ratios = vec![0.0; d];
    let mut per = vec![0.0; d];
    for i in 0..d {
        let g = |y: f64| 0.5 * lambdas[i] * y * y + b[i] * y;
        let ew = gauss_1d(x[i], tau, |y| (-g(y)).exp());
        let ew2 = gauss_1d(x[i], tau, |y| (-2.0 * g(y)).exp());
        let num = gauss_1d(x[i], tau, |y| (-2.0 * g(y)).exp() * (y - exact[i]).powi(2));
        ratios[i] = ew2 / (ew * ew);
        per[i] = num / (ew * ew);
    }
    let prod: f64 = ratios.iter().product();
    let j = 8000;
    let mut is = ImportanceSampling::new(j);
    let mut m = DVector::zeros(d);
    let diag = is.estimate(&x, tau, &q, &mut seeded(5), &mut m).unwrap();
    for i in 0..d {
        let sd = (per[i] * prod / ratios[i] / j as f64).sqrt();
        assert!(
            (m[i] - exact[i]).abs() < 5.0 * sd,
            "coord {i}: {} vs {} (sd {sd})",
            m[i],
            exact[i]
        );
    }
    let ess = diag.ess.unwrap();
    let expected = j as f64 / prod;
    assert!(
        expected > 0.5 * j as f64,
        "landscape chosen so that ESS is reasonable"
    );
    assert!(
        (ess - expected).abs() < 0.05 * expected,
        "ESS {ess} vs {expected}"
    );
}

#[test]
fn importance_sampling_is_exact_in_log_space_when_f_is_huge() {
    let q = diag_quadratic(&[1.0, 2.0], &[0.5, -0.5]);
    let big = FnCost::new(2, |y: &DVector<f64>| q.cost(y, &Batch::Full) + 1.0e4);
    let huge = FnCost::new(2, |y: &DVector<f64>| q.cost(y, &Batch::Full) + 1.0e6);
    let x = DVector::from_vec(vec![0.2, 0.1]);
    let (mut m0, mut m1, mut m2) = (DVector::zeros(2), DVector::zeros(2), DVector::zeros(2));
    let d0 = ImportanceSampling::new(500)
        .estimate(&x, 0.5, &q, &mut seeded(1), &mut m0)
        .unwrap();
    ImportanceSampling::new(500)
        .estimate(&x, 0.5, &big, &mut seeded(1), &mut m1)
        .unwrap();
    let d2 = ImportanceSampling::new(500)
        .estimate(&x, 0.5, &huge, &mut seeded(1), &mut m2)
        .unwrap();
    // e^{-1e4} underflows to 0 in f64: only log-space weights give a finite, shift-invariant answer.
    assert!(
        (&m1 - &m0).norm() < 1e-9 && (&m2 - &m0).norm() < 1e-6,
        "{m0} {m1} {m2}"
    );
    assert!((d2.ess.unwrap() - d0.ess.unwrap()).abs() < 1e-3 * d0.ess.unwrap());
    assert!((-d2.loss.unwrap() + d0.loss.unwrap() + 1.0e6).abs() < 1e-6);
}

/// Exact mean and sd of the average of J iterates of SGLD with constant ε along one direction of
/// a quadratic: an AR(1) process y' = ρy + c + √ε ξ, ρ = 1 − (ε/2)(λ + 1/τ), started at y₀ with
/// `burn` discarded steps. Its stationary mean is E_q exactly (no discretization bias here).
fn sgld_average_law(
    lambda: f64,
    tau: f64,
    eps: f64,
    mu: f64,
    y0: f64,
    burn: usize,
    j: usize,
) -> (f64, f64) {
    let rho = 1.0 - 0.5 * eps * (lambda + 1.0 / tau);
    let jf = j as f64;
    let rj = rho.powi(j as i32);
    let mean = mu + (y0 - mu) * rho.powi(burn as i32 + 1) * (1.0 - rj) / (jf * (1.0 - rho));
    let s2 = eps / (1.0 - rho * rho);
    let var =
        s2 / jf * ((1.0 + rho) / (1.0 - rho) - 2.0 * rho * (1.0 - rj) / (jf * (1.0 - rho).powi(2)));
    (mean, var.sqrt())
}

fn check_sgld_on_quadratic(lambdas: &[f64], b: &[f64], x: DVector<f64>, tau: f64) {
    let d = lambdas.len();
    let q = diag_quadratic(lambdas, b);
    // A large constant ε: for a Gaussian q the AR(1) mean is still exactly E_q, and mixing is fast.
    let (eps, burn, j) = (0.2, 500, 200_000);
    let exact = q.local_entropy_mean(&x, tau);
    let mut sgld = Sgld::paper()
        .constant_step(eps)
        .burn_in(burn)
        .samples(j)
        .warm_start(false);
    let mut m = DVector::zeros(d);
    let counts = Counts::default();
    let counted = Counted::new(&q, &counts);
    let diag = sgld
        .estimate(&x, tau, &counted, &mut seeded(3), &mut m)
        .unwrap();
    assert_eq!(counts.gradients(), burn + j);
    assert_eq!(diag.extra("warm_started"), Some(0.0));
    for i in 0..d {
        let (mean, sd) = sgld_average_law(lambdas[i], tau, eps, exact[i], x[i], burn, j);
        assert!(
            (m[i] - mean).abs() < 5.0 * sd,
            "coord {i}: {} vs {mean} (sd {sd})",
            m[i]
        );
        assert!(
            (mean - exact[i]).abs() < 1e-6,
            "burn-in long enough that the law's mean is E_q"
        );
    }
}

#[test]
fn sgld_matches_quadratic_mean_1d_within_derived_sd() {
    check_sgld_on_quadratic(&[1.5], &[-0.5], DVector::from_element(1, 2.0), 0.5);
}

#[test]
fn sgld_matches_quadratic_mean_in_dimension_10_within_derived_sd() {
    let lambdas: Vec<f64> = (0..10).map(|i| 0.3 + 0.3 * i as f64).collect();
    let b: Vec<f64> = (0..10).map(|i| (i as f64 * 0.7).sin()).collect();
    check_sgld_on_quadratic(
        &lambdas,
        &b,
        DVector::from_fn(10, |i, _| (i as f64 * 1.3).cos()),
        0.8,
    );
}

#[test]
fn sgld_paper_settings_warm_start_track_the_mixture_mean() {
    // 000 Fig. 4 settings (ε_j = 1/(1000+j), J = 1000) on the 1-D mixture at x = 1, where q is,
    // to within e^{-15}, the Gaussian of the wide component (variance v = 1/(1 + 1/τ)); so the
    // warm-started chain is an AR(1) with ρ ≈ 1 − ε̄/(2v), and the average of R estimates (one
    // chain of R·J steps) has sd ≈ sqrt(v (1+ρ)/(1−ρ) / (R J)).
    let mix = GaussianMixture::<f64>::wide_and_sharp();
    let x = DVector::from_element(1, 1.0);
    let tau = 0.5;
    let mut sgld = Sgld::<f64>::paper();
    let mut rng = seeded(9);
    let mut m = DVector::zeros(1);
    let d1 = sgld.estimate(&x, tau, &mix, &mut rng, &mut m).unwrap();
    assert!(d1.extra("warm_started") == Some(0.0) && sgld.chain().is_some());
    let mut acc = 0.0;
    let reps = 60;
    for _ in 0..reps {
        let d = sgld.estimate(&x, tau, &mix, &mut rng, &mut m).unwrap();
        assert_eq!(d.extra("warm_started"), Some(1.0));
        acc += m[0];
    }
    let exact = mix.local_entropy_mean(&x, tau)[0];
    let v = 1.0 / (1.0 + 1.0 / tau);
    let eps_bar = (1..=1000).map(|j| 1.0 / (1000.0 + j as f64)).sum::<f64>() / 1000.0;
    let rho = 1.0 - eps_bar / (2.0 * v);
    let sd = (v * (1.0 + rho) / (1.0 - rho) / (reps as f64 * 1000.0)).sqrt();
    let avg = acc / reps as f64;
    assert!((avg - exact).abs() < 5.0 * sd, "{avg} vs {exact} (sd {sd})");
}

/// Exact law of Robbins–Monro (000 eq. 17) on a diagonal quadratic, coordinate with curvature λ:
/// e' = (1 − a_j(1+τλ)) e − a_j τ^{3/2} λ ξ̄, ξ̄ ~ N(0, 1/M), e = x − x*, e⁰ = x_k − x*.
/// Returns (mean of e after `iters` steps, its sd).
fn rm_law(
    lambda: f64,
    tau: f64,
    e0: f64,
    c: f64,
    alpha: f64,
    m: usize,
    iters: usize,
) -> (f64, f64) {
    let (mut mean, mut var) = (e0, 0.0);
    for j in 1..=iters {
        let a = c * (j as f64).powf(-alpha);
        let r = 1.0 - a * (1.0 + tau * lambda);
        mean *= r;
        var = r * r * var + a * a * tau.powi(3) * lambda * lambda / m as f64;
    }
    (mean, var.sqrt())
}

struct RmCase<'a> {
    lambdas: &'a [f64],
    b: &'a [f64],
    x: DVector<f64>,
    tau: f64,
    c: f64,
    alpha: f64,
    m: usize,
    iters: usize,
}

fn check_rm_on_quadratic(case: RmCase, converged: bool) {
    let d = case.lambdas.len();
    let q = diag_quadratic(case.lambdas, case.b);
    let exact = q.mode_seeking_step(&case.x, case.tau);
    let mut rm = RobbinsMonro::paper()
        .c(case.c)
        .alpha(case.alpha)
        .samples(case.m)
        .iterations(case.iters);
    let mut out = DVector::zeros(d);
    rm.minimize(&case.x, case.tau, &q, &mut seeded(21), &mut out)
        .unwrap();
    for i in 0..d {
        let (bias, sd) = rm_law(
            case.lambdas[i],
            case.tau,
            case.x[i] - exact[i],
            case.c,
            case.alpha,
            case.m,
            case.iters,
        );
        let err = out[i] - exact[i];
        assert!(
            (err - bias).abs() < 5.0 * sd + 1e-12,
            "coord {i}: err {err}, bias {bias}, sd {sd}"
        );
        if converged {
            assert!(bias.abs() < 1e-3 && sd < 0.01, "bias {bias}, sd {sd}");
        }
    }
}

#[test]
fn robbins_monro_matches_the_mode_seeking_closed_form_1d_and_10d() {
    // Paper defaults (c = 0.1, α = 0.7, M = J = 30): the exact law includes the unfinished bias.
    let paper = |lambdas, b, x, tau| RmCase {
        lambdas,
        b,
        x,
        tau,
        c: 0.1,
        alpha: 0.7,
        m: 30,
        iters: 30,
    };
    check_rm_on_quadratic(
        paper(&[2.0], &[1.0], DVector::from_element(1, 1.0), 0.5),
        false,
    );
    let lambdas: Vec<f64> = (0..10).map(|i| 0.5 + 0.2 * i as f64).collect();
    let b: Vec<f64> = (0..10).map(|i| 0.1 * i as f64 - 0.4).collect();
    let x = DVector::from_fn(10, |i, _| 1.0 - 0.2 * i as f64);
    check_rm_on_quadratic(paper(&lambdas, &b, x.clone(), 0.5), false);
    // A converging setting: x^J ≈ (I + τA)⁻¹(x_k − τb).
    let conv = RmCase {
        lambdas: &lambdas,
        b: &b,
        x,
        tau: 0.5,
        c: 0.6,
        alpha: 0.6,
        m: 50,
        iters: 200,
    };
    check_rm_on_quadratic(conv, true);
}

#[test]
fn robbins_monro_with_quadrature_follows_the_exact_deterministic_law_1d_2d() {
    for d in [1usize, 2] {
        let lambdas: Vec<f64> = (0..d).map(|i| 1.0 + i as f64).collect();
        let b: Vec<f64> = (0..d).map(|i| 0.5 - i as f64).collect();
        let q = diag_quadratic(&lambdas, &b);
        let x = DVector::from_fn(d, |i, _| 1.0 + i as f64);
        let tau = 0.4;
        let mut rm = RobbinsMonro::paper()
            .c(0.7)
            .iterations(100)
            .expectation(GaussianExpectation::Quadrature(Quadrature::new(41, 10.0)));
        let mut out = DVector::zeros(d);
        rm.minimize(&x, tau, &q, &mut seeded(0), &mut out).unwrap();
        let exact = q.mode_seeking_step(&x, tau);
        for i in 0..d {
            let (bias, _) = rm_law(lambdas[i], tau, x[i] - exact[i], 0.7, 0.7, 1, 100);
            assert!((out[i] - exact[i] - bias).abs() < 1e-10);
            assert!(bias.abs() < 1e-6);
        }
    }
}

#[test]
fn monte_carlo_regularized_losses_match_closed_forms() {
    // F^H_τ of a quadratic in d = 10: mean f + τ tr(A)/2, exact variance τ|∇f(x)|² + τ² tr(A²)/2.
    let d = 10;
    let lambdas: Vec<f64> = (0..d).map(|i| 0.5 + 0.25 * i as f64).collect();
    let b: Vec<f64> = (0..d).map(|i| 0.2 * i as f64 - 1.0).collect();
    let q = diag_quadratic(&lambdas, &b);
    let x = DVector::from_fn(d, |i, _| 0.3 * i as f64 - 1.0);
    let tau = 0.3;
    let j = 20_000;
    let mut mc = MonteCarlo::new(j);
    let mut rng = seeded(4);
    let est = mc.heat(&x, tau, &q, &mut rng).unwrap();
    let grad2: f64 = (0..d).map(|i| (lambdas[i] * x[i] + b[i]).powi(2)).sum();
    let tr_a2: f64 = lambdas.iter().map(|l| l * l).sum();
    let sd = ((tau * grad2 + tau * tau * tr_a2 / 2.0) / j as f64).sqrt();
    assert!(
        (est.value - q.heat(&x, tau)).abs() < 5.0 * sd,
        "{} vs {}",
        est.value,
        q.heat(&x, tau)
    );
    assert!((est.standard_error / sd - 1.0).abs() < 0.1);

    // F_τ of the 1-D mixture: delta-method sd sqrt(E w²/(E w)² − 1)/√J, bias O(1/J).
    let mix = GaussianMixture::<f64>::wide_and_sharp();
    let f = |y: f64| mix.cost(&DVector::from_element(1, y), &Batch::Full);
    for &(x0, tau) in &[(0.0, 0.5), (-2.0, 0.1), (1.5, 1.0)] {
        let x = DVector::from_element(1, x0);
        let ew = gauss_1d(x0, tau, |y| (-f(y)).exp());
        let ew2 = gauss_1d(x0, tau, |y| (-2.0 * f(y)).exp());
        let sd = ((ew2 / (ew * ew) - 1.0) / j as f64).sqrt();
        let est = mc.local_entropy(&x, tau, &mix, &mut rng).unwrap();
        let exact = mix.local_entropy(&x, tau);
        assert!(
            (est.value - exact).abs() < 5.0 * sd + 1e-12,
            "{} vs {exact} (sd {sd})",
            est.value
        );
        assert!((est.standard_error / sd - 1.0).abs() < 0.2);
    }

    // F_τ of a 10-D mixture, reported standard error.
    let mix10 = GaussianMixture::new(
        vec![0.4, 0.6],
        vec![
            DVector::from_element(10, 0.5),
            DVector::from_element(10, -0.5),
        ],
        vec![1.0, 1.5],
    );
    let x = DVector::from_element(10, 0.1);
    let est = mc.local_entropy(&x, 0.1, &mix10, &mut rng).unwrap();
    assert!((est.value - mix10.local_entropy(&x, 0.1)).abs() < 5.0 * est.standard_error);
    assert!(est.standard_error < 0.01);
}

#[test]
fn sgld_chain_has_the_exact_stationary_spread_for_each_temperature() {
    // One Langevin step per call with warm start: the successive chain states form the AR(1)
    // y' = ρy + c + √(ε·T) ξ, whose stationary variance is ε·T/(1 − ρ²) (≈ T·Var_q for small ε).
    let q = diag_quadratic(&[2.0], &[0.5]);
    let (tau, eps, n) = (0.5, 0.05, 40_000);
    let x = DVector::from_element(1, 0.3);
    let rho: f64 = 1.0 - 0.5 * eps * (2.0 + 1.0 / tau);
    for temperature in [1.0, 0.25] {
        let mut sgld = Sgld::paper()
            .constant_step(eps)
            .samples(1)
            .temperature(temperature);
        let mut rng = seeded(8);
        let mut m = DVector::zeros(1);
        let (mut s1, mut s2) = (0.0, 0.0);
        for i in 0..n + 1000 {
            sgld.estimate(&x, tau, &q, &mut rng, &mut m).unwrap();
            if i >= 1000 {
                let y = sgld.chain().unwrap()[0];
                s1 += y;
                s2 += y * y;
            }
        }
        let var = s2 / n as f64 - (s1 / n as f64).powi(2);
        let expected = eps * temperature / (1.0 - rho * rho);
        let rel_sd = (2.0 * (1.0 + rho * rho) / (1.0 - rho * rho) / n as f64).sqrt();
        assert!(
            (var / expected - 1.0).abs() < 5.0 * rel_sd,
            "T = {temperature}: var {var} vs {expected} (rel sd {rel_sd})"
        );
    }
}

#[test]
fn heat_regularization_scheme_follows_the_exact_linear_law_on_a_quadratic_10d() {
    // Through the front door with paper defaults. On f = ½Σλᵢyᵢ² + bᵢyᵢ one RM step maps
    // x_k − m to κ(x_k − m) + noise, κ = 1/(1+τλ) + R·τλ/(1+τλ), R = Π_j(1 − a_j(1+τλ)),
    // m = −b/λ, noise variance v_J from `rm_law`; after K steps: mean κᴷ(x₀ − m),
    // variance v_J Σ_{i<K} κ^{2i}.
    let d = 10;
    let lambdas: Vec<f64> = (0..d).map(|i| 0.5 + 0.2 * i as f64).collect();
    let b: Vec<f64> = (0..d).map(|i| 0.3 * i as f64 - 1.0).collect();
    let q = diag_quadratic(&lambdas, &b);
    let tau = 0.5;
    let x0 = DVector::from_fn(d, |i, _| 2.0 - 0.3 * i as f64);
    let mut x = x0.clone();
    let mut scheme = wide_valleys::HeatRegularization::new(tau).seed(17);
    let k_steps = 30;
    for k in 0..k_steps {
        let r = scheme.step(&mut x, &q).unwrap();
        assert_eq!((r.step, r.gradient_evaluations), (k, 900));
    }
    for i in 0..d {
        let l = lambdas[i];
        let m = -b[i] / l;
        let (r_prod, v) = rm_law(l, tau, 1.0, 0.1, 0.7, 30, 30);
        let kappa = 1.0 / (1.0 + tau * l) + r_prod * tau * l / (1.0 + tau * l);
        let mean = kappa.powi(k_steps as i32) * (x0[i] - m);
        let var: f64 = (0..k_steps).map(|j| v * v * kappa.powi(2 * j as i32)).sum();
        assert!(
            (x[i] - m - mean).abs() < 5.0 * var.sqrt() + 1e-12,
            "coord {i}: {} vs {} (sd {})",
            x[i] - m,
            mean,
            var.sqrt()
        );
    }
}
