//! The Langevin transition, once: y ← y − h·∇U(y) + σ·ξ on the proximal surrogate
//! U(y) = f(y) + |y − c|²/(2τ), whose invariant law (h → 0, σ² = 2h) is q_{c,τ} of 000 eq. 6.
//! SGLD (000 Alg. 3) and the inner loop of Entropy-SGD, HJ and Parle (004 Alg. 1, 003 Alg. 2,
//! eq. 4.40, 5.8a–b) are uses of it; the caller owns the loop (as in posteriors, a sampler is a
//! one-step transition).
//!
//! ```
//! use nalgebra::dvector;
//! use wide_valleys::objectives::Quadratic;
//! use wide_valleys::sampling::{ChainForm, LangevinChain, RunningMean};
//! use wide_valleys::rng;
//! // f = ½|y|²: q_{c,τ} has mean c/(1 + τ). Noiseless steps converge to that mode.
//! let f = Quadratic::new(nalgebra::dmatrix![1.0], dvector![0.0])?;
//! let (c, tau) = (dvector![2.0], 1.0);
//! let mut chain = LangevinChain::new(ChainForm::Displacement, RunningMean::last_iterate());
//! chain.start(&c, None, 0, 0);
//! let mut r = rng::seeded(0);
//! for _ in 0..200 {
//!     chain.step(&f, &c, tau, 0.1, 0.0, &mut r)?;
//! }
//! let mut mean = dvector![0.0f64];
//! chain.mean_into(&c, &mut mean);
//! assert!((mean[0] - 1.0).abs() < 1e-9);
//! # Ok::<(), wide_valleys::Error>(())
//! ```

use super::langevin_pass::{self, Form, Noise, StepConstants};
use super::settings::Averaging;
use crate::error::check;
use crate::kernels::{self, NOISE_BLOCK};
use crate::objective::{Batch, Gradient};
use crate::rng::Prng;
use crate::{Error, Real, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// In which variable the chain is kept. Both take the same transition in exact arithmetic; they
/// round differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainForm {
    /// The position y itself, as 000 Alg. 3 prints SGLD. Needed to warm-start a chain at its
    /// last state when the centre moves (000 §5.1.1).
    #[default]
    Position,
    /// The displacement d = y − c from the centre, started at d₀ = 0 (004 Alg. 1, 003 eq. 4.42
    /// in the variable x − y). The reductions of 003 §5.3.1 are then exact: with one step of size
    /// 1, τ = ∞, no noise and the last iterate, −d = ∇f(c) bit for bit.
    Displacement,
}

/// Which average of the chain's states is its output.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "T: Real")]
pub enum RunningMean<T: Real> {
    /// Σ_j w_j y_j / Σ_j w_j with the weights passed to each step (000 Alg. 3: w_j = ε_j).
    Weighted,
    /// m ← (1 − a)·m + a·y from m₀ = c (004 Alg. 1 line 6; a = 1 keeps the last iterate, HJ).
    Exponential(Averaging<T>),
}

impl<T: Real> RunningMean<T> {
    /// The last iterate (HJ, 003 §4.6.1.2).
    pub fn last_iterate() -> Self {
        RunningMean::Exponential(Averaging::last_iterate())
    }
}

/// A Langevin chain: its configuration (form, running mean) and its state (position,
/// displacement, running mean, step count) with the scratch of one step (∇f, noise, minibatch).
///
/// Noise: step i of a chain started with `(key, first_pass)` draws the variates of pass
/// `first_pass + i` under `key`, block by block (16 384 entries each), so the chain is the same for
/// any number of threads and whether the noise is drawn beside the gradient or inside the pass.
#[derive(Clone, Debug)]
pub struct LangevinChain<T: Real> {
    form: ChainForm,
    running_mean: RunningMean<T>,
    y: DVector<T>,
    d: DVector<T>,
    mean: DVector<T>,
    weight: T,
    steps: usize,
    key: u64,
    first_pass: u64,
    g: DVector<T>,
    noise: DVector<T>,
    batch: Batch,
}

impl<T: Real> LangevinChain<T> {
    /// An empty chain (buffers are sized by [`Self::start`]).
    pub fn new(form: ChainForm, running_mean: RunningMean<T>) -> Self {
        Self {
            form,
            running_mean,
            y: DVector::zeros(0),
            d: DVector::zeros(0),
            mean: DVector::zeros(0),
            weight: T::zero(),
            steps: 0,
            key: 0,
            first_pass: 0,
            g: DVector::zeros(0),
            noise: DVector::zeros(0),
            batch: Batch::Full,
        }
    }

    /// Changes the running mean (takes effect at the next [`Self::start`]).
    pub fn set_running_mean(&mut self, running_mean: RunningMean<T>) {
        self.running_mean = running_mean;
    }

    /// Starts the chain at the centre c (or, in position form, at `from`, e.g. the last state of
    /// an earlier chain), with the noise of `(key, first_pass + i)` for step i.
    pub fn start(&mut self, c: &DVector<T>, from: Option<&DVector<T>>, key: u64, first_pass: u64) {
        let n = c.len();
        for v in [&mut self.y, &mut self.mean, &mut self.g, &mut self.noise] {
            if v.len() != n {
                *v = DVector::zeros(n);
            }
        }
        let displacement = self.form == ChainForm::Displacement;
        if displacement && self.d.len() != n {
            self.d = DVector::zeros(n);
        }
        (self.weight, self.steps, self.key, self.first_pass) = (T::zero(), 0, key, first_pass);
        match (self.form, from) {
            (ChainForm::Position, Some(from)) if from.len() == n => self.y.copy_from(from),
            (ChainForm::Position, _) => self.y.copy_from(c),
            // y = c + d₀ with d₀ = +0 (added, not copied: −0 becomes +0 as in every later step);
            // d and the mean are not written: the first step takes d₀ = m₀ = +0 as constants.
            (ChainForm::Displacement, _) => {
                let cs = c.as_slice();
                kernels::par_blocks(self.y.as_mut_slice(), &mut [], |o, y, _| {
                    let len = y.len();
                    for (yi, &ci) in y.iter_mut().zip(&cs[o..o + len]) {
                        *yi = ci + T::zero();
                    }
                })
            }
        }
        if !displacement {
            match self.running_mean {
                RunningMean::Weighted => self.mean.fill(T::zero()),
                RunningMean::Exponential(_) => self.mean.copy_from(c),
            }
        }
    }

    /// One transition at centre c (the centre given to [`Self::start`]) with scope τ, drift h and
    /// noise σ, on a fresh minibatch drawn from `rng`; the state enters the running mean with
    /// weight `weight` ([`RunningMean::Weighted`]; 0 leaves it out, e.g. burn-in).
    ///
    /// Errors: x and c of different lengths, a non-finite ∇f (the chain is then unusable until
    /// the next [`Self::start`]).
    pub fn step<O: Gradient<T> + ?Sized>(
        &mut self,
        loss: &O,
        c: &DVector<T>,
        tau: T,
        h: T,
        sigma: T,
        rng: &mut Prng,
    ) -> Result<()> {
        self.step_weighted(loss, c, tau, h, sigma, T::one(), false, rng)
    }

    /// [`Self::step`] with an explicit averaging weight, and `last` to skip the next position
    /// (displacement form, where the loop's last step needs none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step_weighted<O: Gradient<T> + ?Sized>(
        &mut self,
        loss: &O,
        c: &DVector<T>,
        tau: T,
        h: T,
        sigma: T,
        weight: T,
        last: bool,
        rng: &mut Prng,
    ) -> Result<()> {
        check::dim(self.y.len(), c.len())?;
        let n = c.len();
        let noisy = sigma > T::zero();
        let pass = self.first_pass + self.steps as u64;
        let key = self.key;
        loss.draw_batch(rng, &mut self.batch);
        let (y, batch, g, noise) = (&self.y, &self.batch, &mut self.g, &mut self.noise);
        // Where no other thread is free to draw the noise beside the gradient (every thread
        // busy, as the loss Parle hands its replicas says; a 1-thread pool; a short x), the pass
        // draws it itself, in L1-sized chunks: the same variates, without writing and re-reading
        // a d-long noise vector.
        let outer = loss.parallelism();
        let in_pass = noisy && !kernels::noise_beside_pays(n, outer);
        let gradient = |par| loss.gradient_with(y, batch, g, par);
        if noisy && !in_pass {
            let noise = || kernels::fill_noise(key, pass, noise.as_mut_slice());
            kernels::beside(outer, gradient, noise, n);
        } else {
            // Through `beside` all the same, so that large products may still split.
            kernels::beside(outer, gradient, || {}, n);
        }
        let (p, q) = match self.running_mean {
            RunningMean::Weighted => (T::one(), weight),
            RunningMean::Exponential(a) => (T::one() - a.weight_of_new(), a.weight_of_new()),
        };
        let k = StepConstants {
            h,
            inv_tau: T::one() / tau, // 0 for τ = ∞
            sigma,
            p,
            q,
            noisy,
        };
        let form = match self.form {
            ChainForm::Position => Form::Position,
            ChainForm::Displacement if self.steps == 0 => Form::DisplacementFirst,
            ChainForm::Displacement => Form::Displacement,
        };
        let (g, cs, noise) = (self.g.as_slice(), c.as_slice(), self.noise.as_slice());
        let noise_of = |o: usize, len: usize| {
            if in_pass {
                Noise::Stream(langevin_pass::block_noise(key, pass, o))
            } else if noisy {
                Noise::Buffer(&noise[o..o + len])
            } else {
                Noise::None
            }
        };
        // Position form: the state is y itself (the third vector is unused).
        let (state, y) = match self.form {
            ChainForm::Position => (&mut self.y, None),
            ChainForm::Displacement => (&mut self.d, Some(&mut self.y)),
        };
        let write_y = !last;
        let finite = blocks3(
            state.as_mut_slice(),
            self.mean.as_mut_slice(),
            y.map(|y| y.as_mut_slice()).unwrap_or(&mut []),
            |o, s, m, y| {
                let r = o..o + s.len();
                let y = (write_y && !y.is_empty()).then_some(y);
                let xi = noise_of(o, s.len());
                langevin_pass::block(form, s, m, y, &g[r.clone()], &cs[r], xi, k)
            },
        );
        if !finite {
            return Err(Error::NonFinite {
                what: "gradient",
                during: "the Langevin transition",
            });
        }
        self.steps += 1;
        self.weight += weight;
        Ok(())
    }

    /// Steps taken since [`Self::start`].
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The current position y (in displacement form, after the loop's last step, the position of
    /// the step before).
    pub fn position(&self) -> &DVector<T> {
        &self.y
    }

    /// The running mean in the chain's own variable: Σ w y (weighted, unnormalised) or the
    /// exponential mean of y (position form) or of d = y − c (displacement form).
    pub fn raw_mean(&self) -> &DVector<T> {
        &self.mean
    }

    /// Σ_j w_j of the weighted mean so far.
    pub fn weight(&self) -> T {
        self.weight
    }

    /// Writes the chain's estimate of E_{q_{c,τ}}\[Y\] into `out`: the weighted mean Σ w y / Σ w,
    /// or the exponential mean (c + mean displacement in displacement form).
    pub fn mean_into(&self, c: &DVector<T>, out: &mut DVector<T>) {
        out.copy_from(&self.mean);
        if self.running_mean == RunningMean::Weighted {
            out.unscale_mut(self.weight);
        }
        if self.form == ChainForm::Displacement {
            *out += c;
        }
    }
}

/// Runs `f(offset, a, b, c)` over the fixed blocks ([`NOISE_BLOCK`]) of `a`, `b` and `c` (`c`
/// as long as `a`, or empty and every `c` block empty), in parallel when there are several
/// blocks, and returns whether every block returned true (every block runs). Element-wise work
/// only, so the result does not depend on the thread count.
fn blocks3<T: Real, F>(a: &mut [T], b: &mut [T], c: &mut [T], f: F) -> bool
where
    F: Fn(usize, &mut [T], &mut [T], &mut [T]) -> bool + Sync,
{
    use rayon::prelude::*;
    const B: usize = NOISE_BLOCK;
    if a.len() <= B {
        return f(0, a, b, c);
    }
    let ab = a.par_chunks_mut(B).zip(b.par_chunks_mut(B)).enumerate();
    if c.is_empty() {
        ab.map(|(i, (a, b))| f(i * B, a, b, &mut []))
            .reduce(|| true, |x, y| x & y)
    } else {
        ab.zip(c.par_chunks_mut(B))
            .map(|((i, (a, b)), c)| f(i * B, a, b, c))
            .reduce(|| true, |x, y| x & y)
    }
}
