//! Robbins–Monro for the mode-seeking Gaussian–KL step (000 Alg. 5, eq. 17).

use super::ModeSeekingSolver;
use crate::error::{check, site};
use crate::kernels;
use crate::objective::{Batch, Gradient, MeanGradient, NoiseStream};
use crate::rng::{self, Prng};
use crate::sampling::Quadrature;
use crate::{Error, Real, Report, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// How E_{φ_{x,τ}}\[∇f(Y)\] in h(x) (000 eq. 17) is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum GaussianExpectation {
    /// (τ/M) Σ_m ∇f(z^(m)), z^(m) ~ φ_{x^j,τ}, as in 000 eq. 17. Each gradient sample z^(m) is
    /// evaluated on its own fresh minibatch, so the M-average also averages minibatch noise.
    #[default]
    MonteCarlo,
    /// [`MonteCarlo`](Self::MonteCarlo)'s estimator with the same law, drawn with less noise
    /// where the objective can ([`MeanGradient::gaussian_mean_gradient`]): the MLP
    /// ([`MlpObjective`](crate::nn::MlpObjective)) draws its first layer's perturbation only
    /// through its product with each minibatch, 6 010 instead of 159 010 variates per sample on
    /// 784 → 200 → 10 at minibatch 20. Other objectives, and minibatches of at least as many
    /// examples as the network has inputs, fall back to `MonteCarlo` (same bits as it). The
    /// numbers differ from `MonteCarlo`'s for the same seed; their distribution does not.
    ProjectedMonteCarlo,
    /// Exact expectation by grid quadrature (d = 1, 2): deterministic RM, for Theorem 4 tests.
    Quadrature(Quadrature),
}

/// Robbins–Monro iteration for the zero of h(x) = x − x_k + τ E_{φ_{x,τ}}\[∇f\] (000 Alg. 5):
///
/// x^{j+1} = x^j − a_j (x^j − x_k + (τ/M) Σ_m ∇f(z^(m))),  z^(m) ~ φ_{x^j,τ},  x^0 = x_k,
///
/// j = 1..J, output x^{J+1} after J updates. h(x)/τ is the gradient of
/// KL(φ_{x,τ} ‖ q_{x_k,τ}) = F^H_τ(x) + |x − x_k|²/(2τ) + const, so this is spatially averaged
/// gradient descent on a proximal objective for F^H_τ.
///
/// Step sizes a_j = c·j^{−α}, α ∈ (1/2, 1]. 000 §5.2 prints "a^l = c·l^α"; with α > 0 that grows
/// and diverges, and the Robbins–Monro conditions Σa_j = ∞, Σa_j² < ∞ (which is exactly why
/// α ∈ (1/2, 1] is required) hold for the decreasing c·j^{−α}: that is what is implemented.
/// Defaults c = 0.1, α = 0.7, M = J = 30 (000 Fig. 4, §6.2).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct RobbinsMonro<T: Real> {
    c: T,
    alpha: T,
    samples: usize,
    iterations: usize,
    expectation: GaussianExpectation,
    #[serde(skip)]
    scratch: Scratch<T>,
}

#[derive(Clone, Debug, Default)]
struct Scratch<T: Real> {
    xj: DVector<T>,
    z: DVector<T>,
    g: DVector<T>,
    gsum: DVector<T>,
    /// Noise of the current sample and, drawn during its gradient, of the next one.
    noise: DVector<T>,
    noise_next: DVector<T>,
    /// The M minibatches of the current iteration.
    batches: Vec<Batch>,
}

impl<T: Real> Default for RobbinsMonro<T> {
    /// [`RobbinsMonro::paper`].
    fn default() -> Self {
        Self::paper()
    }
}

impl<T: Real> RobbinsMonro<T> {
    /// c = 0.1, α = 0.7, M = J = 30, Monte Carlo expectation (000 Fig. 4).
    pub fn paper() -> Self {
        Self {
            c: T::lit(0.1),
            alpha: T::lit(0.7),
            samples: 30,
            iterations: 30,
            expectation: GaussianExpectation::MonteCarlo,
            scratch: Scratch {
                xj: DVector::zeros(0),
                z: DVector::zeros(0),
                g: DVector::zeros(0),
                gsum: DVector::zeros(0),
                noise: DVector::zeros(0),
                noise_next: DVector::zeros(0),
                batches: Vec::new(),
            },
        }
    }

    /// Step-size scale c > 0 in a_j = c·j^{−α} (checked when used).
    pub fn c(mut self, c: T) -> Self {
        self.c = c;
        self
    }

    /// Step-size decay α ∈ (1/2, 1] in a_j = c·j^{−α} (checked when used).
    pub fn alpha(mut self, alpha: T) -> Self {
        self.alpha = alpha;
        self
    }

    /// M, gradient samples per iteration (≥ 1).
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// J, number of Robbins–Monro iterations (≥ 1).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// How E_{φ_{x,τ}}\[∇f\] is computed (Monte Carlo by default; quadrature in d = 1, 2).
    pub fn expectation(mut self, expectation: GaussianExpectation) -> Self {
        self.expectation = expectation;
        self
    }

    /// The step size a_j = c·j^{−α} (j ≥ 1).
    pub fn step_size(&self, j: usize) -> T {
        self.c * T::lit((j as f64).powf(-self.alpha.as_f64()))
    }

    /// Checks c finite and > 0, α ∈ (1/2, 1], M ≥ 1, J ≥ 1 and J·M < 2⁶⁴ (the Gaussian draws
    /// are numbered by it).
    pub fn validate(&self) -> Result<()> {
        check::positive("c", self.c)?;
        let a = self.alpha.as_f64();
        if !(a > 0.5 && a <= 1.0) {
            return Err(Error::InvalidHyperParameter {
                name: "alpha",
                value: a,
                reason:
                    "must be in (0.5, 1], so that the step sizes c·j^(−alpha) sum to ∞ while their \
                         squares do not (the Robbins–Monro conditions)",
            });
        }
        check::count("samples", self.samples)?;
        check::count("iterations", self.iterations)?;
        check::product_fits(
            "iterations",
            self.iterations,
            self.samples,
            "iterations · samples must be below 2^64 (the noise streams are numbered by it): use \
             fewer iterations or samples",
        )?;
        if let GaussianExpectation::Quadrature(q) = &self.expectation {
            q.validate()?;
        }
        Ok(())
    }
}

impl<T: Real, O: Gradient<T> + ?Sized> ModeSeekingSolver<T, O> for RobbinsMonro<T> {
    fn validate(&self) -> Result<()> {
        RobbinsMonro::validate(self)
    }

    fn minimize(
        &mut self,
        x_k: &DVector<T>,
        tau: T,
        loss: &O,
        rng: &mut Prng,
        x_next: &mut DVector<T>,
    ) -> Result<Report> {
        // Lengths first: the loss never sees a wrong-length x, and `x_next` is never overrun.
        check::dim_and_output(loss.dim(), x_k.len(), "x_next", x_next.len())?;
        Self::validate(self)?;
        let d = check::tau_and_dim(tau, loss.dim(), x_k.len())?;
        let s = &mut self.scratch;
        // The objective's batched mean of gradients, if it has one (Monte Carlo only); the
        // one-gradient-at-a-time buffers are allocated only when they are used.
        let projected = matches!(self.expectation, GaussianExpectation::ProjectedMonteCarlo);
        let monte_carlo = projected || self.expectation == GaussianExpectation::MonteCarlo;
        let batched = loss.as_mean_gradient().filter(|_| monte_carlo);
        if s.xj.len() != d {
            s.xj = DVector::zeros(d);
            s.gsum = DVector::zeros(d);
        }
        if batched.is_none() && s.z.len() != d {
            s.z = DVector::zeros(d);
            s.g = DVector::zeros(d);
        }
        if batched.is_none() && monte_carlo && s.noise.len() != d {
            s.noise = DVector::zeros(d);
            s.noise_next = DVector::zeros(d);
        }
        s.xj.copy_from(x_k);
        let sqrt_tau = tau.sqrt();
        let m_inv = T::one() / T::lit(self.samples as f64);
        // Noise from per-block streams of one key per step (same result for any thread count).
        let key = if monte_carlo { rng::fork_key(rng) } else { 0 };
        // What the loss's view says about the threads (all busy inside Parle's replicas).
        let outer = loss.parallelism();
        for j in 1..=self.iterations {
            let a = check::positive(
                "step_size",
                self.c * T::lit((j as f64).powf(-self.alpha.as_f64())),
            )?;
            match &self.expectation {
                GaussianExpectation::MonteCarlo | GaussianExpectation::ProjectedMonteCarlo => {
                    // z^(m) = x^j + √τ ξ with ξ the noise of pass (j−1)·M + m, on minibatch m
                    // (drawn first, in the order of one at a time).
                    if s.batches.len() < self.samples {
                        // A typed error rather than a capacity-overflow panic for an absurd M.
                        let more = self.samples - s.batches.len();
                        s.batches.try_reserve_exact(more).map_err(|_| {
                            Error::InvalidHyperParameter {
                                name: "samples",
                                value: self.samples as f64,
                                reason: "too many minibatches to allocate: use fewer samples",
                            }
                        })?;
                    }
                    s.batches.resize_with(self.samples, Batch::default);
                    for b in &mut s.batches {
                        loss.draw_batch(rng, b);
                    }
                    let pass0 = ((j - 1) * self.samples) as u64;
                    let drawn_in_law = projected
                        && batched.is_some_and(|b: &dyn MeanGradient<T>| {
                            let (x, b2) = (&s.xj, &s.batches);
                            // Checked for NaN/∞ in the update pass below.
                            let noise = NoiseStream::new(key, pass0);
                            b.gaussian_mean_gradient(x, sqrt_tau, b2, noise, &mut s.gsum)
                                .is_some()
                        });
                    if drawn_in_law {
                    } else if let Some(batched) = batched {
                        let xs = s.xj.as_slice();
                        let point = |m: usize, offset: usize, z: &mut [T]| {
                            let pass = pass0 + m as u64;
                            kernels::gaussian_around_at(key, pass, offset, z, xs, sqrt_tau)
                        };
                        // Checked for NaN/∞ in the update pass below.
                        batched.mean_gradient(&s.batches, &point, &mut s.gsum);
                    } else {
                        s.gsum.fill(T::zero());
                        let passes = (self.iterations * self.samples) as u64;
                        if j == 1 {
                            kernels::fill_noise(key, 0, s.noise.as_mut_slice());
                        }
                        for m in 0..self.samples {
                            let pass = pass0 + m as u64;
                            let (xs, noise) = (s.xj.as_slice(), s.noise.as_slice());
                            kernels::par_blocks(s.z.as_mut_slice(), &mut [], |o, z, _| {
                                let r = o..o + z.len();
                                kernels::gaussian_sample(z, &xs[r.clone()], &noise[r], sqrt_tau)
                            });
                            // The next sample's noise is drawn while this gradient is computed.
                            let (z, g, next) = (&s.z, &mut s.g, &mut s.noise_next);
                            let batch = &s.batches[m];
                            kernels::beside(
                                outer,
                                |par| loss.gradient_with(z, batch, g, par),
                                || {
                                    if pass + 1 < passes {
                                        kernels::fill_noise(key, pass + 1, next.as_mut_slice())
                                    }
                                },
                                d,
                            );
                            check::finite_vec("gradient", site::ROBBINS_MONRO, &s.g)?;
                            kernels::axpy(s.gsum.as_mut_slice(), T::one(), s.g.as_slice());
                            std::mem::swap(&mut s.noise, &mut s.noise_next);
                        }
                        s.gsum *= m_inv;
                    }
                }
                GaussianExpectation::Quadrature(q) => {
                    q.gaussian_mean_gradient_with(
                        &s.xj,
                        tau,
                        loss,
                        &mut s.gsum,
                        &mut s.z,
                        &mut s.g,
                    )?;
                }
            }
            // x^{j+1} = x^j − a_j (x^j − x_k + τ ḡ)   (000 eq. 17), in parallel blocks, with the
            // check of the batched mean gradient in the same pass (the others are checked as
            // they are summed); x^j is scratch, so a failed check only discards it.
            let (xk, g) = (x_k.as_slice(), s.gsum.as_slice());
            let finite = kernels::par_blocks_all(s.xj.as_mut_slice(), &mut [], |o, xj, _| {
                let r = o..o + xj.len();
                kernels::robbins_monro_step(xj, &xk[r.clone()], &g[r], tau, a)
            });
            if batched.is_some() && !finite {
                return Err(Error::NonFinite {
                    what: "gradient",
                    during: site::ROBBINS_MONRO,
                });
            }
        }
        check::finite_vec("iterate", site::ROBBINS_MONRO, &s.xj)?;
        x_next.copy_from(&s.xj);
        Ok(Report::default())
    }
}
