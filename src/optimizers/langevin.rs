//! The local-entropy gradient by a Langevin inner loop (Entropy-SGD's inner loop, 004 Alg. 1
//! lines 1–6, 003 Alg. 2 lines 1–5, eq. 4.40) and its noiseless, last-iterate variant, the
//! Hopf–Lax / non-viscous Hamilton–Jacobi gradient (HJ, 003 eqs. 4.41–4.42, §4.6.1.2).
//!
//! Both run L steps of (stochastic) gradient descent on y ↦ f(y) + |y − x|²/(2γ) from y = x and
//! return (x − ⟨y⟩)/γ: ∇F_γ(x) = (x − E_{q_{x,γ}}[Y])/γ for local entropy (000 eq. 12, 003 eq. 3.10;
//! 004 eq. 7 with its coupling γ₀₀₄ = 1/γ and the opposite sign of F) and
//! ∇u(x, γ) = (x − prox_{γf}(x))/γ for Hopf–Lax (003 eq. 4.18).
//!
//! The chain is tracked as the displacement d = y − x (d₀ = 0), which is exactly what the
//! reductions of 003 §5.3.1 need: with L = 1, γ = ∞, η′ = 1 and all weight on the new sample the
//! returned (scaled) gradient is ∇f(x) bit for bit.

use super::{GradientOracle, SmoothedOptimizer};
use crate::error::check;
use crate::kernels;
use crate::objective::{Batch, Gradient};
use crate::rng::{self, Prng};
use crate::update::{Sgd, UpdateRule};
use crate::{Error, Real, Report, Result, Schedule};
use multiversion::multiversion;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// How the Langevin noise is scaled from the step η′ and the thermal noise β⁻¹.
///
/// The seeds disagree (`shared/DESIGN.md`, "Conventions"), so this is an explicit parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseScale {
    /// σ = √(2η′β⁻¹) (003 Alg. 2 line 4). The Euler–Maruyama discretisation of the Langevin SDE
    /// whose invariant law is ∝ exp(−β(f(y) + |y − x|²/(2γ))): with β⁻¹ = 1 the chain samples
    /// q_{x,γ} of 000 eq. 6 (as η′ → 0). The default.
    #[default]
    TwoStepTemperature,
    /// σ = √(η′β⁻¹) (003 eqs. 4.39–4.40): samples at temperature β⁻¹/2.
    StepTemperature,
    /// σ = √η′·ε with the thermal-noise amplitude ε := β⁻¹ (004 Alg. 1 line 5, "√η′ ε N(0, I)";
    /// the stored seed text prints the factor as "2√η′"). ε is an amplitude, not a variance.
    SqrtStepTimesAmplitude,
}

impl NoiseScale {
    /// The standard deviation σ of the noise added to each Langevin step.
    pub fn sigma<T: Real>(self, step: T, thermal_noise: T) -> T {
        match self {
            NoiseScale::TwoStepTemperature => (T::lit(2.0) * step * thermal_noise).sqrt(),
            NoiseScale::StepTemperature => (step * thermal_noise).sqrt(),
            NoiseScale::SqrtStepTimesAmplitude => step.sqrt() * thermal_noise,
        }
    }
}

/// The exponential average of the Langevin iterates, μ ← (1 − a)·μ + a·y, with `a` the weight of
/// the **new** sample (004's convention: α₀₀₄ = a = 0.75–0.9). 003 writes z ← αz + (1 − α)y with
/// α on the **old** average (α₀₀₃ = 0.25), i.e. a = 1 − α₀₀₃. a = 1 keeps the last iterate (HJ,
/// 003 §4.6.1.2 "α = 0").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct Averaging<T: Real> {
    new_sample_weight: T,
}

impl<T: Real> Averaging<T> {
    /// From 004's α (weight of the new sample), α ∈ (0, 1].
    pub fn new_sample_weight(alpha_004: T) -> Result<Self> {
        let a = check::in_closed("alpha", alpha_004, 0.0, 1.0)?;
        if a <= T::zero() {
            return Err(Error::InvalidHyperParameter {
                name: "alpha",
                value: a.as_f64(),
                reason: "the new sample's weight must be in (0, 1]",
            });
        }
        Ok(Self {
            new_sample_weight: a,
        })
    }

    /// From 003's α (weight of the old average, Alg. 2 line 5, eq. 5.5b), α ∈ [0, 1).
    pub fn old_average_weight(alpha_003: T) -> Result<Self> {
        let a = check::in_closed("alpha", alpha_003, 0.0, 1.0)?;
        Self::new_sample_weight(T::one() - a)
    }

    /// Keep only the last iterate (a = 1; HJ, 003 §4.6.1.2).
    pub fn last_iterate() -> Self {
        Self {
            new_sample_weight: T::one(),
        }
    }

    /// The weight a of the new sample.
    pub fn weight_of_new(&self) -> T {
        self.new_sample_weight
    }
}

/// ∇F_γ(x) = (x − μ)/γ with μ the exponential average of L Langevin steps
/// y ← y − η′(∇f(y) + (y − x)/γ) + σ·N(0, I), a fresh minibatch per step
/// (004 Alg. 1 lines 1–6; 003 Alg. 2 lines 1–5, eq. 4.40), plus 004's data term ρ∇f(x) on its own
/// minibatch (004 eq. 9; ρ = 0 by default, as 003 Alg. 2).
///
/// With [`LocalEntropyGradient::scaled`] the local-entropy part is multiplied by γ, giving x − μ
/// (003 §3.2.3: with SGD and η = 1 the outer step is x ← μ). γ = +∞ is allowed (the proximal
/// term vanishes; the unscaled gradient is then 0).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct LocalEntropyGradient<T: Real> {
    // γ = +∞ (Elastic-SGD) has no JSON number: checkpoints store it as a unit variant.
    #[serde(with = "crate::checkpoint::checked_schedule")]
    scope: Schedule<T>,
    langevin_steps: usize,
    langevin_step: T,
    thermal_noise: T,
    noise_scale: NoiseScale,
    averaging: Averaging<T>,
    data_weight: T,
    scaled: bool,
    #[serde(skip)]
    d: DVector<T>,
    #[serde(skip)]
    mu: DVector<T>,
    #[serde(skip)]
    y: DVector<T>,
    #[serde(skip)]
    g: DVector<T>,
    #[serde(skip)]
    noise: DVector<T>,
    #[serde(skip)]
    batch: Batch,
    // The inner loop under way (between `start` and `finish`), so that a caller can run it one
    // Langevin step at a time (Parle interleaves more replicas than threads step by step).
    #[serde(skip)]
    run: Option<InnerRun<T>>,
}

/// The constants of one inner loop and how far it has got.
#[derive(Clone, Copy, Debug)]
struct InnerRun<T> {
    gamma: T,
    inv_gamma: T,
    sigma: T,
    noisy: bool,
    key: u64,
    /// Langevin steps done.
    done: usize,
}

/// Validates a scope or coupling value: > 0, +∞ allowed (003 §5.3.1 needs γ = ρ = ∞).
pub(crate) fn check_scope<T: Real>(name: &'static str, s: &Schedule<T>, k: usize) -> Result<T> {
    check::positive_or_inf(name, s.at(k))
}

impl<T: Real> LocalEntropyGradient<T> {
    /// Scope γ (a variance; schedule or constant, +∞ allowed) and L ≥ 1 Langevin steps, with the
    /// defaults η′ = 0.1 (003 §4.6.1.1, η_y = 0.1), β⁻¹ = 10⁻⁸ (003 §4.6.1.1), noise
    /// [`NoiseScale::TwoStepTemperature`], new-sample weight 0.75 (003's α = 0.25), ρ = 0, unscaled.
    pub fn new(scope: impl Into<Schedule<T>>, langevin_steps: usize) -> Result<Self> {
        let scope = scope.into();
        check_scope("scope", &scope, 0)?;
        Ok(Self {
            scope,
            langevin_steps: check::count("langevin_steps", langevin_steps)?,
            langevin_step: T::lit(0.1),
            thermal_noise: T::lit(1e-8),
            noise_scale: NoiseScale::TwoStepTemperature,
            averaging: Averaging::old_average_weight(T::lit(0.25))?,
            data_weight: T::zero(),
            scaled: false,
            d: DVector::zeros(0),
            mu: DVector::zeros(0),
            y: DVector::zeros(0),
            g: DVector::zeros(0),
            noise: DVector::zeros(0),
            batch: Batch::Full,
            run: None,
        })
    }

    /// The Langevin step η′ > 0 (004's η′, 003 Alg. 2's η, eq. 4.40's η_y, 5.8a's η⁽⁰⁾).
    pub fn langevin_step(mut self, step: T) -> Result<Self> {
        self.langevin_step = check::positive("langevin_step", step)?;
        Ok(self)
    }

    /// The thermal noise β⁻¹ ≥ 0 (0: no injected noise, only minibatch noise, 003 §5.2.2).
    pub fn thermal_noise(mut self, thermal_noise: T) -> Result<Self> {
        self.thermal_noise = check::non_negative("thermal_noise", thermal_noise)?;
        Ok(self)
    }

    /// How the noise scales with η′ and β⁻¹ (see [`NoiseScale`]).
    pub fn noise_scale(mut self, scale: NoiseScale) -> Self {
        self.noise_scale = scale;
        self
    }

    /// The exponential averaging of the iterates (see [`Averaging`]).
    pub fn averaging(mut self, averaging: Averaging<T>) -> Self {
        self.averaging = averaging;
        self
    }

    /// 004's data weight ρ ≥ 0 (eq. 6, 9): adds ρ∇f(x) on a separate minibatch.
    pub fn data_weight(mut self, rho: T) -> Result<Self> {
        self.data_weight = check::non_negative("data_weight", rho)?;
        Ok(self)
    }

    /// 003 §3.2.3: return γ∇F_γ = x − μ instead of ∇F_γ (so that scoping γ does not fight the
    /// learning rate; with SGD and η = 1 the outer step is x ← μ).
    pub fn scaled(mut self, scaled: bool) -> Self {
        self.scaled = scaled;
        self
    }

    /// The scope schedule γ_k.
    pub fn scope(&self) -> &Schedule<T> {
        &self.scope
    }

    /// γ_k at outer step k.
    pub fn scope_at(&self, k: usize) -> T {
        self.scope.at(k)
    }

    /// The number L of Langevin steps.
    pub fn langevin_steps(&self) -> usize {
        self.langevin_steps
    }

    /// Whether the gradient is scaled by γ (003 §3.2.3).
    pub fn is_scaled(&self) -> bool {
        self.scaled
    }

    fn ensure(&mut self, n: usize) {
        if self.d.len() != n {
            self.d = DVector::zeros(n);
            self.mu = DVector::zeros(n);
            self.y = DVector::zeros(n);
            self.g = DVector::zeros(n);
            self.noise = DVector::zeros(n);
        }
    }
}

impl<T: Real> LocalEntropyGradient<T> {
    /// Begins an inner loop at `x` for outer step `k` (draws the noise key from `rng` if the loop
    /// is noisy). Then [`Self::advance`] until it returns true, then [`Self::finish`]:
    /// together exactly [`GradientOracle::estimate`], whose draws they make in the same order.
    pub(crate) fn start(&mut self, x: &DVector<T>, k: usize, rng: &mut Prng) -> Result<()> {
        self.run = None;
        let gamma = check_scope("scope", &self.scope, k)?;
        self.ensure(x.len());
        let sigma = self
            .noise_scale
            .sigma(self.langevin_step, self.thermal_noise);
        let noisy = sigma > T::zero();
        // No draw at all when σ = 0, so noiseless variants consume only minibatch draws; the
        // noise comes from per-block streams of one key (same result for any thread count).
        let key = if noisy { rng::fork_key(rng) } else { 0 };
        // y = x + d₀ with d₀ = +0 (added, not copied: −0 becomes +0 as in every later step).
        // d and μ are not written: the first Langevin step takes d₀ = μ₀ = +0 as constants.
        let xs = x.as_slice();
        step_blocks(&mut self.d, &mut self.mu, &mut self.y, |o, _, _, y| {
            let len = y.len();
            for (yi, &xi) in y.iter_mut().zip(&xs[o..o + len]) {
                *yi = xi + T::zero();
            }
            true
        });
        self.run = Some(InnerRun {
            gamma,
            inv_gamma: T::one() / gamma, // 0 for γ = ∞
            sigma,
            noisy,
            key,
            done: 0,
        });
        Ok(())
    }

    /// One Langevin step of the loop begun by [`Self::start`] at the same `x`; true once all L
    /// are done. On error the loop is abandoned (start again).
    pub(crate) fn advance<O: Gradient<T>>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        rng: &mut Prng,
    ) -> Result<bool> {
        let Some(run) = self.run else {
            return Err(not_started());
        };
        if run.done == self.langevin_steps {
            return Ok(true);
        }
        let l = run.done;
        let InnerRun {
            inv_gamma,
            sigma,
            noisy,
            key,
            ..
        } = run;
        let (eta, a) = (self.langevin_step, self.averaging.new_sample_weight);
        loss.draw_batch(rng, &mut self.batch);
        let (y, batch, g, noise) = (&self.y, &self.batch, &mut self.g, &mut self.noise);
        // Where no other thread is free to draw the noise beside the gradient (Parle's replica
        // workers, a 1-thread pool, a short x), the pass below draws it itself, in L1-sized
        // chunks: the same variates, without writing and re-reading a d-long noise vector (the
        // pass is memory-bound, and Parle's replicas share the cache).
        let noise_in_pass = noisy && !kernels::noise_beside_pays(x.len());
        if noisy && !noise_in_pass {
            // The noise does not depend on the gradient: draw it while the gradient is computed.
            kernels::beside(
                || loss.gradient(y, batch, g),
                || kernels::fill_noise(key, l as u64, noise.as_mut_slice()),
                x.len(),
            );
        } else {
            // Nothing to draw beside; through `beside` all the same, so that large products
            // (minibatch ≥ 128) may still split between threads as they do beside the noise.
            kernels::beside(|| loss.gradient(y, batch, g), || {}, x.len());
        }
        // One parallel pass per step, block by block, and inside a block ONE fused loop (not
        // three passes): check ∇f, d ← d − η(∇f + d/γ) [+ σξ], μ ← (1 − a)μ + a·d, and the next
        // y = x + d. Each element is loaded once: the pass is memory-bound, and the replicas of
        // Parle share the cache. d, μ and y are scratch (`start` resets y; the first step does
        // not read d and μ), so a failed check may leave them half done.
        let (g, xs, noise) = (self.g.as_slice(), x.as_slice(), self.noise.as_slice());
        let last = l + 1 == self.langevin_steps;
        let c = StepConstants {
            eta,
            inv_gamma,
            sigma,
            a,
            noisy,
            first: l == 0,
        };
        let finite = step_blocks(&mut self.d, &mut self.mu, &mut self.y, |o, d, mu, y| {
            if noise_in_pass {
                // Block o / NOISE_BLOCK's stream of `fill_noise`, drawn a chunk at a time.
                let mut stream = kernels::block_stream(key, l as u64, o / kernels::NOISE_BLOCK);
                let mut xi = [T::zero(); kernels::NOISE_CHUNK];
                let mut ok = true;
                let mut y = (!last).then_some(y);
                for at in (0..d.len()).step_by(kernels::NOISE_CHUNK) {
                    let end = (at + kernels::NOISE_CHUNK).min(d.len());
                    let xi = &mut xi[..end - at];
                    T::fill_standard_normal(&mut stream, xi);
                    ok &= langevin_pass(
                        &mut d[at..end],
                        &mut mu[at..end],
                        y.as_mut().map(|y| &mut y[at..end]),
                        &g[o + at..o + end],
                        &xs[o + at..o + end],
                        Some(xi),
                        c,
                    );
                }
                ok
            } else {
                let r = o..o + d.len();
                langevin_pass(
                    d,
                    mu,
                    (!last).then_some(y),
                    &g[r.clone()],
                    &xs[r.clone()],
                    noisy.then(|| &noise[r]),
                    c,
                )
            }
        });
        if !finite {
            self.run = None;
            return Err(Error::NonFinite {
                what: "gradient",
                during: "Langevin inner loop",
            });
        }
        self.run = Some(InnerRun { done: l + 1, ..run });
        Ok(last)
    }

    /// The completed run (an error if the loop was not run to its end) and the factor of μ in
    /// the local-entropy gradient: x − μ = −(mean displacement), divided by γ unless scaled
    /// (003 §3.2.3).
    fn take_finished(&mut self) -> Result<(InnerRun<T>, T)> {
        let run = match self.run.take() {
            Some(run) if run.done == self.langevin_steps => run,
            _ => return Err(not_started()),
        };
        let factor = if self.scaled {
            -T::one()
        } else {
            -run.inv_gamma
        };
        Ok((run, factor))
    }

    /// Ends the loop (after [`Self::advance`] returned true): writes (x − μ)/γ (or x − μ if
    /// scaled) plus 004's data term into `out`.
    pub(crate) fn finish<O: Gradient<T>>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        let (run, factor) = self.take_finished()?;
        out.copy_from(&self.mu);
        *out *= factor;
        if self.data_weight > T::zero() {
            // 004 eq. 9: a separate minibatch for the data term.
            loss.draw_batch(rng, &mut self.batch);
            loss.gradient(x, &self.batch, &mut self.g);
            check::finite_vec("gradient", "Entropy-SGD outer gradient", &self.g)?;
            out.axpy(self.data_weight, &self.g, T::one());
        }
        check::finite_vec("local-entropy gradient", "Langevin inner loop", out)?;
        Ok(Report::with_scope(run.gamma.as_f64()))
    }

    /// [`Self::finish`] for a replica of Parle (003 eq. 5.8c), in one pass over the d
    /// parameters instead of five: `out` ← (x − μ)[/γ] + (x − `master`)·`inv_coupling`,
    /// `backup` ← x (the replica's roll-back copy), and returns |out| (the same 16-lane sum as
    /// `kernels::norm`). Per element the same operations as `finish` followed by the coupling
    /// term, so the same bits, and the same errors: "local-entropy gradient" if (x − μ)[/γ] is
    /// not finite, else "replica gradient" if the sum is not. With 004's data term (ρ > 0,
    /// never set by Parle) it falls back to those separate passes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_coupled<O: Gradient<T>>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        rng: &mut Prng,
        master: &DVector<T>,
        inv_coupling: T,
        out: &mut DVector<T>,
        backup: &mut DVector<T>,
    ) -> Result<(Report, T)> {
        if self.data_weight > T::zero() {
            let info = self.finish(x, loss, rng, out)?;
            let (g, xs) = (out.as_mut_slice(), x.as_slice());
            for ((gi, &xi), &mi) in g.iter_mut().zip(xs).zip(master.as_slice()) {
                *gi += (xi - mi) * inv_coupling;
            }
            check::finite_vec("replica gradient", "Parle replica step", out)?;
            backup.copy_from(x);
            return Ok((info, kernels::norm(out.as_slice())));
        }
        let (run, factor) = self.take_finished()?;
        let (local_ok, ok, norm) = coupled_gradient(
            out.as_mut_slice(),
            backup.as_mut_slice(),
            self.mu.as_slice(),
            x.as_slice(),
            master.as_slice(),
            factor,
            inv_coupling,
        );
        if !local_ok {
            return Err(Error::NonFinite {
                what: "local-entropy gradient",
                during: "Langevin inner loop",
            });
        }
        if !ok {
            return Err(Error::NonFinite {
                what: "replica gradient",
                during: "Parle replica step",
            });
        }
        let info = Report::with_scope(run.gamma.as_f64());
        Ok((info, norm))
    }
}

/// `advance` or `finish` out of turn (an internal invariant; an error rather than a panic).
fn not_started() -> Error {
    Error::InvalidHyperParameter {
        name: "langevin_steps",
        value: 0.0,
        reason: "the inner loop was not started (internal: start, advance, then finish)",
    }
}

impl<T: Real> GradientOracle<T> for LocalEntropyGradient<T> {
    fn estimate<O: Gradient<T>>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        check::dim_and_output(loss.dim(), x.len(), "out", out.len())?;
        self.start(x, k, rng)?;
        while !self.advance(x, loss, rng)? {}
        self.finish(x, loss, rng, out)
    }
}

/// The constants of one Langevin step of [`langevin_pass`].
#[derive(Clone, Copy)]
struct StepConstants<T> {
    eta: T,
    inv_gamma: T,
    sigma: T,
    a: T,
    noisy: bool,
    /// The loop's first step: d₀ = μ₀ = +0 are constants, not read.
    first: bool,
}

/// One Langevin step of the inner loop on a block, fused into one loop (004 Alg. 1 lines 3–5,
/// 003 eq. 4.40, 5.8a–b): for each element, with g = ∇f(y) and d = y − x,
/// d ← d − η(g + d/γ) [+ σξ], μ ← (1 − a)μ + a·d and (if `y` is given) y ← x + d. With `c.first`
/// (the loop's first step) d and μ are not read: they are d₀ = μ₀ = +0, so `start` need not
/// write them. Returns false if some g is not finite (the block is then garbage; the caller
/// abandons the loop).
///
/// Per element exactly the IEEE operations of the two passes it replaced (the d/μ update, then
/// y = x + d; with d₀ = μ₀ = +0 as operands on the first step), so the same bits as before;
/// the finiteness test no longer stops at the first bad entry (it is an and over the block,
/// which vectorizes).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn langevin_pass<T: Real>(
    d: &mut [T],
    mu: &mut [T],
    y: Option<&mut [T]>,
    g: &[T],
    x: &[T],
    noise: Option<&[T]>,
    c: StepConstants<T>,
) -> bool {
    let n = d.len();
    let (mu, g, x) = (&mut mu[..n], &g[..n], &x[..n]);
    // One loop per case rather than branches in one loop, so that each vectorizes without the
    // unused streams (the helper is inlined into each of this function's CPU versions).
    let y = y.map(|y| &mut y[..n]);
    let xi = noise.map(|xi| &xi[..n]);
    match (c.first, y, xi) {
        (false, Some(y), Some(xi)) => pass::<T, false>(d, mu, g, x, c, |i| xi[i], |i, v| y[i] = v),
        (false, Some(y), None) => pass::<T, false>(d, mu, g, x, c, |_| T::zero(), |i, v| y[i] = v),
        (false, None, Some(xi)) => pass::<T, false>(d, mu, g, x, c, |i| xi[i], |_, _| {}),
        (false, None, None) => pass::<T, false>(d, mu, g, x, c, |_| T::zero(), |_, _| {}),
        (true, Some(y), Some(xi)) => pass::<T, true>(d, mu, g, x, c, |i| xi[i], |i, v| y[i] = v),
        (true, Some(y), None) => pass::<T, true>(d, mu, g, x, c, |_| T::zero(), |i, v| y[i] = v),
        (true, None, Some(xi)) => pass::<T, true>(d, mu, g, x, c, |i| xi[i], |_, _| {}),
        (true, None, None) => pass::<T, true>(d, mu, g, x, c, |_| T::zero(), |_, _| {}),
    }
}

/// The loop of [`langevin_pass`] for one case. `noise(i)` is ξ_i, or +0 without noise (then
/// σξ is not added at all: the sum stays as it is, even −0); `store_y(i, x_i + d_i)`.
#[inline(always)]
fn pass<T: Real, const FIRST: bool>(
    d: &mut [T],
    mu: &mut [T],
    g: &[T],
    x: &[T],
    c: StepConstants<T>,
    noise: impl Fn(usize) -> T,
    mut store_y: impl FnMut(usize, T),
) -> bool {
    let StepConstants {
        eta,
        inv_gamma,
        sigma,
        a,
        noisy,
        ..
    } = c;
    let one_minus_a = T::one() - a;
    let mut ok = true;
    for i in 0..d.len() {
        ok &= g[i].is_finite();
        let (di, mi) = if FIRST {
            (T::zero(), T::zero())
        } else {
            (d[i], mu[i])
        };
        let mut v = di - eta * (g[i] + di * inv_gamma);
        if noisy {
            v += sigma * noise(i);
        }
        d[i] = v;
        mu[i] = one_minus_a * mi + a * v;
        store_y(i, x[i] + v);
    }
    ok
}

/// The pass of [`LocalEntropyGradient::finish_coupled`]: out ← μ·factor + (x − m)·c and
/// backup ← x, with whether every μ·factor and every out is finite and |out| summed in 16
/// interleaved lanes exactly as `kernels::norm` (lane j takes the elements ≡ j mod 16, in order).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn coupled_gradient<T: Real>(
    out: &mut [T],
    backup: &mut [T],
    mu: &[T],
    x: &[T],
    m: &[T],
    factor: T,
    c: T,
) -> (bool, bool, T) {
    const LANES: usize = 16;
    let n = out.len();
    let (backup, mu, x, m) = (&mut backup[..n], &mu[..n], &x[..n], &m[..n]);
    let mut acc = [T::zero(); LANES];
    let (mut local_ok, mut ok) = (true, true);
    let mut element = |i: usize, lane: &mut T| {
        let local = mu[i] * factor;
        local_ok &= local.is_finite();
        let v = local + (x[i] - m[i]) * c;
        ok &= v.is_finite();
        out[i] = v;
        backup[i] = x[i];
        *lane += v * v;
    };
    let whole = n - n % LANES;
    for start in (0..whole).step_by(LANES) {
        for (j, lane) in acc.iter_mut().enumerate() {
            element(start + j, lane);
        }
    }
    for (j, lane) in acc.iter_mut().enumerate().take(n - whole) {
        element(whole + j, lane);
    }
    let norm = acc.iter().fold(T::zero(), |s, &a| s + a).sqrt();
    (local_ok, ok, norm)
}

/// Runs `f(offset, d, μ, y)` over the fixed blocks ([`kernels::NOISE_BLOCK`]) of the three
/// equally long vectors, in parallel (stealable by idle threads) when there are several blocks,
/// and returns whether every block returned true (every block runs). Element-wise work only, so
/// the result does not depend on the thread count.
fn step_blocks<T: Real, F>(
    d: &mut DVector<T>,
    mu: &mut DVector<T>,
    y: &mut DVector<T>,
    f: F,
) -> bool
where
    F: Fn(usize, &mut [T], &mut [T], &mut [T]) -> bool + Sync,
{
    use rayon::prelude::*;
    const B: usize = kernels::NOISE_BLOCK;
    let (d, mu, y) = (d.as_mut_slice(), mu.as_mut_slice(), y.as_mut_slice());
    if d.len() <= B {
        f(0, d, mu, y)
    } else {
        d.par_chunks_mut(B)
            .zip(mu.par_chunks_mut(B))
            .zip(y.par_chunks_mut(B))
            .enumerate()
            .map(|(b, ((d, mu), y))| f(b * B, d, mu, y))
            .reduce(|| true, |a, b| a & b)
    }
}

/// The Hopf–Lax (non-viscous Hamilton–Jacobi) gradient (x − y_L)/γ: L noiseless gradient steps
/// y ← y − η_y(∇f(y) + (y − x)/γ) from y = x, keeping the **last** iterate (003 eqs. 4.40–4.41
/// with β_ex⁻¹ = 0 and α = 0, §4.6.1.2; eq. 4.42 is the same update in the variable x − y).
/// y_L approximates prox_{γf}(x), so this estimates ∇u(x, γ) (003 eq. 4.18).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub struct HopfLaxGradient<T: Real>(LocalEntropyGradient<T>);

impl<T: Real> HopfLaxGradient<T> {
    /// Scope γ (variance, +∞ allowed) and L ≥ 1 inner steps (003 §4.6.1.2 uses L = 5), inner step
    /// η_y = 0.1 (003 §4.6.1.1).
    pub fn new(scope: impl Into<Schedule<T>>, inner_steps: usize) -> Result<Self> {
        Ok(Self(
            LocalEntropyGradient::new(scope, inner_steps)?
                .thermal_noise(T::zero())?
                .averaging(Averaging::last_iterate()),
        ))
    }

    /// The inner step η_y > 0.
    pub fn inner_step(self, step: T) -> Result<Self> {
        check::positive("inner_step", step)?;
        Ok(Self(self.0.langevin_step(step)?))
    }

    /// Return γ·gradient = x − y_L (as [`LocalEntropyGradient::scaled`]).
    pub fn scaled(self, scaled: bool) -> Self {
        Self(self.0.scaled(scaled))
    }

    /// γ_k at outer step k.
    pub fn scope_at(&self, k: usize) -> T {
        self.0.scope_at(k)
    }
}

impl<T: Real> GradientOracle<T> for HopfLaxGradient<T> {
    fn estimate<O: Gradient<T>>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        k: usize,
        rng: &mut Prng,
        out: &mut DVector<T>,
    ) -> Result<Report> {
        self.0.estimate(x, loss, k, rng, out)
    }
}

/// Front door for **Entropy-SGD** (004 Alg. 1; 003 Alg. 2): the [`LocalEntropyGradient`] oracle
/// followed by SGD (change the rule with [`SmoothedOptimizer::with_rule`]: Nesterov as in 003
/// §3.3, Adam for Entropy-Adam, 003 §3.3.5).
#[derive(Clone, Copy, Debug)]
pub struct EntropySgd;

// Front doors return the composed optimizer type, by design (DESIGN.md: thin front doors).
#[allow(clippy::new_ret_no_self)]
impl EntropySgd {
    /// Entropy-SGD with scope γ (a variance, γ = 1/γ₀₀₄; a constant or a scoping
    /// [`Schedule`], 003 §3.2.3), L Langevin steps and outer learning rate η.
    /// Outer step: x ← x − η(ρ∇f(x) + (x − μ)/γ) (004 eq. 9 with γ₀₀₄ = 1/γ).
    pub fn new<T: Real>(
        scope: impl Into<Schedule<T>>,
        langevin_steps: usize,
        learning_rate: T,
    ) -> Result<SmoothedOptimizer<T, LocalEntropyGradient<T>, Sgd>> {
        SmoothedOptimizer::new(
            LocalEntropyGradient::new(scope, langevin_steps)?,
            learning_rate,
        )
    }
}

impl<T: Real, U: UpdateRule<T>> SmoothedOptimizer<T, LocalEntropyGradient<T>, U> {
    /// Sets the Langevin step η′ (see [`LocalEntropyGradient::langevin_step`]).
    pub fn langevin_step(mut self, step: T) -> Result<Self> {
        let o = self.oracle_mut();
        *o = o.clone().langevin_step(step)?;
        Ok(self)
    }
    /// Sets the thermal noise β⁻¹ (see [`LocalEntropyGradient::thermal_noise`]).
    pub fn thermal_noise(mut self, thermal_noise: T) -> Result<Self> {
        let o = self.oracle_mut();
        *o = o.clone().thermal_noise(thermal_noise)?;
        Ok(self)
    }
    /// Sets the noise convention (see [`NoiseScale`]).
    pub fn noise_scale(mut self, scale: NoiseScale) -> Self {
        let o = self.oracle_mut();
        *o = o.clone().noise_scale(scale);
        self
    }
    /// Sets the exponential averaging (see [`Averaging`]).
    pub fn averaging(mut self, averaging: Averaging<T>) -> Self {
        let o = self.oracle_mut();
        *o = o.clone().averaging(averaging);
        self
    }
    /// Sets 004's data weight ρ (see [`LocalEntropyGradient::data_weight`]).
    pub fn data_weight(mut self, rho: T) -> Result<Self> {
        let o = self.oracle_mut();
        *o = o.clone().data_weight(rho)?;
        Ok(self)
    }
    /// 003 §3.2.3's scaled form (see [`LocalEntropyGradient::scaled`]).
    pub fn scaled(mut self, scaled: bool) -> Self {
        let o = self.oracle_mut();
        *o = o.clone().scaled(scaled);
        self
    }
}

/// Front door for **HJ**, non-viscous Hamilton–Jacobi smoothing (003 eq. 4.42, §4.6.1.2): the
/// [`HopfLaxGradient`] oracle followed by SGD.
#[derive(Clone, Copy, Debug)]
pub struct HamiltonJacobi;

// Front doors return the composed optimizer type, by design (DESIGN.md: thin front doors).
#[allow(clippy::new_ret_no_self)]
impl HamiltonJacobi {
    /// HJ with scope γ (variance), L inner steps (003 uses 5) and outer learning rate η:
    /// x ← x − η(x − y_L)/γ (003 eq. 4.41 with ⟨y⟩ = y_L).
    pub fn new<T: Real>(
        scope: impl Into<Schedule<T>>,
        inner_steps: usize,
        learning_rate: T,
    ) -> Result<SmoothedOptimizer<T, HopfLaxGradient<T>, Sgd>> {
        SmoothedOptimizer::new(HopfLaxGradient::new(scope, inner_steps)?, learning_rate)
    }
}

impl<T: Real, U: UpdateRule<T>> SmoothedOptimizer<T, HopfLaxGradient<T>, U> {
    /// Sets the inner step η_y (see [`HopfLaxGradient::inner_step`]).
    pub fn inner_step(mut self, step: T) -> Result<Self> {
        let o = self.oracle_mut();
        *o = o.clone().inner_step(step)?;
        Ok(self)
    }
}
