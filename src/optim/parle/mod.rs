//! Parle (003 eq. 5.8) and Elastic-SGD (003 eq. 5.4): n replicas x^a coupled elastically to a
//! master x, each replica running Entropy-SGD's inner loop.
//!
//! With the step-size normalisation of 003 §5.3.2 (η⁽⁰⁾ = η₀, η⁽¹⁾ = ηγ_k, η⁽²⁾ = η,
//! η⁽³⁾ = ρ_k/n) one outer step k is, for every replica a (in parallel):
//!
//! - 5.8a–b: L Langevin steps y ← y − η₀(∇f_a(y) + (y − x^a)/γ_k) from y = x^a, averaged into z^a
//!   (a fresh minibatch of replica a's objective per step; [`LocalEntropyGradient`] in its scaled
//!   form, 003 §3.2.3);
//! - 5.8c: x^a ← rule(x^a, (x^a − z^a) + (x^a − x)/ρ_k, η_k);
//!
//! and then 5.8d: x ← (1/n) Σ_a x^a (η⁽³⁾ = ρ_k/n makes the master the replicas' average).
//! γ_k and ρ_k follow [`Schedule`]s (eq. 5.10 with clipping) read at the outer counter k, which
//! advances once per outer step (⌊k/L⌋ of eq. 5.10 counts inner steps; our k is already outer).
//!
//! Special cases (003 §5.3.1), exact in this implementation: n = 1, ρ = ∞ is Entropy-SGD in the
//! scaled form; L = 1, γ = ∞ (with η₀ = 1, last iterate, no noise) is Elastic-SGD (eq. 5.4 with
//! η′ = ρ/n); L = n = 1, γ = ρ = ∞ is SGD.

mod replica;
mod schedule;
mod transport;

pub use replica::{ParleReplica, ReplicaState};
pub use transport::{InProcess, Transport};

use crate::error::check;
use crate::objective::{Cost, Counted, Counts};
use crate::optim::Optimizer;
use crate::rng;
use crate::sampling::ExponentialSgld;
use crate::smoothing::{GradientOracle, LocalEntropyGradient, PlainGradient};
use crate::update::{Sgd, UpdateRule};
use crate::{Error, Real, Report, Result, Schedule};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// Parle (003 eq. 5.8): "Entropy-SGD running in an inner loop of Elastic-SGD".
///
/// Each replica may have its own objective (a disjoint shard of the data, 003 §5.5) — see
/// [`Parle::step_replicas`] — or all share one ([`Optimizer::step`]). The master is the `x` passed
/// to `step`; the replicas live in the optimizer and start at the first `x` seen.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    bound = "T: Real, U: Serialize + serde::de::DeserializeOwned, Tr: Default, \
                 G: Serialize + serde::de::DeserializeOwned"
)]
pub struct Parle<T: Real, U = Sgd, Tr = InProcess, G = LocalEntropyGradient<T>> {
    n: usize,
    oracle: G,
    // ρ = +∞ has no JSON number: checkpoints store it as a unit variant.
    #[serde(with = "crate::checkpoint::checked_schedule")]
    coupling: Schedule<T>,
    // Validated on load; +∞ stored as a unit variant (crate::checkpoint::checked_schedule).
    #[serde(with = "crate::checkpoint::checked_schedule")]
    learning_rate: Schedule<T>,
    rule: U,
    seed: u64,
    k: usize,
    replicas: Vec<ParleReplica<T, U, G>>,
    #[serde(skip)]
    transport: Tr,
    #[serde(skip)]
    mean: DVector<T>,
}

impl<T: Real> Parle<T, Sgd, InProcess> {
    /// Parle with n ≥ 1 replicas, scope γ (variance; constant or eq. 5.10 schedule; +∞ allowed),
    /// elastic coupling ρ (variance; +∞ allowed), L ≥ 1 inner steps and learning rate η.
    ///
    /// Defaults (003 §5.3.2, §5.2.2): α₀₀₃ = 0.25 (new-sample weight 0.75), inner step η⁽⁰⁾ = η,
    /// no injected noise (β⁻¹ = 0), SGD (Remark 5.3 uses Nesterov 0.9: [`Parle::with_rule`]).
    /// Another chain (step, noise, averaging) is an oracle of its own: [`Parle::with_oracle`]
    /// with `LocalEntropyGradient::with_estimator(γ, chain).scaled(true)`.
    pub fn new(
        replicas: usize,
        scope: impl Into<Schedule<T>>,
        coupling: impl Into<Schedule<T>>,
        langevin_steps: usize,
        learning_rate: T,
    ) -> Self {
        let chain = ExponentialSgld::new(langevin_steps)
            .langevin_step(learning_rate)
            .thermal_noise(T::zero());
        let oracle = LocalEntropyGradient::with_estimator(scope, chain).scaled(true);
        Parle::with_oracle(replicas, oracle, coupling, learning_rate)
    }
}

/// **Elastic-SGD** (003 eq. 5.4): Parle over the plain gradient, x^a ← x^a − η(∇f_a(x^a) +
/// (x^a − x)/ρ_k) (5.4a), x ← mean_a x^a (5.4b with η′ = ρ/n). It is also Parle with L = 1,
/// γ = ∞, inner step 1, last iterate and no noise (003 §5.3.1 (ii); `tests/optimizers_parle.rs`
/// checks the two bit for bit).
pub type ElasticSgd<T = f64, U = Sgd, Tr = InProcess> = Parle<T, U, Tr, PlainGradient>;

impl<T: Real> ElasticSgd<T> {
    /// Elastic-SGD with n replicas, coupling ρ (variance; +∞ allowed) and learning rate η
    /// (`ElasticSgd::elastic(..)`; not `new`, which is Parle's own).
    pub fn elastic(replicas: usize, coupling: impl Into<Schedule<T>>, learning_rate: T) -> Self {
        Parle::with_oracle(replicas, PlainGradient::new(), coupling, learning_rate)
    }
}

impl<T: Real, G> Parle<T, Sgd, InProcess, G> {
    /// Elastic coupling of n ≥ 1 replicas (003 eq. 5.8c–d) around any smoothed-gradient oracle:
    /// each replica steps x^a ← x^a − η(g_a(x^a) + (x^a − x)/ρ_k) with g_a = `oracle` (e.g. HEAT's
    /// or the local-entropy gradient over importance sampling), and the master is their mean.
    /// With the default oracle ([`Parle::new`]) this is Parle; with the plain gradient,
    /// Elastic-SGD (eq. 5.4).
    pub fn with_oracle(
        replicas: usize,
        oracle: G,
        coupling: impl Into<Schedule<T>>,
        learning_rate: T,
    ) -> Self {
        Self {
            n: replicas,
            oracle,
            coupling: coupling.into(),
            learning_rate: Schedule::Constant(learning_rate),
            rule: Sgd,
            seed: 0,
            k: 0,
            replicas: Vec::new(),
            transport: InProcess::new(),
            mean: DVector::zeros(0),
        }
    }
}

impl<T: Real, U: UpdateRule<T>, Tr: Transport, G: Clone> Parle<T, U, Tr, G> {
    /// Seeds replica a with `rng::stream(seed, a)` (replica 0 draws what Entropy-SGD seeded with
    /// `seed` draws). Resets the replicas.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.replicas.clear();
        self
    }

    /// Runs the replicas on a dedicated pool of `threads` threads (results do not depend on it).
    pub fn threads(self, threads: usize) -> Result<Parle<T, U, InProcess, G>> {
        Ok(self.transport(InProcess::with_threads(threads)?))
    }

    /// Replaces the replica–master transport.
    pub fn transport<Tr2: Transport>(self, transport: Tr2) -> Parle<T, U, Tr2, G> {
        Parle {
            n: self.n,
            oracle: self.oracle,
            coupling: self.coupling,
            learning_rate: self.learning_rate,
            rule: self.rule,
            seed: self.seed,
            k: self.k,
            replicas: self.replicas,
            transport,
            mean: self.mean,
        }
    }

    /// Replaces the replicas' update rule for eq. 5.8c (Nesterov 0.9 in 003 Remark 5.3). Resets
    /// the replicas.
    pub fn with_rule<V: UpdateRule<T>>(self, rule: V) -> Parle<T, V, Tr, G> {
        Parle {
            n: self.n,
            oracle: self.oracle,
            coupling: self.coupling,
            learning_rate: self.learning_rate,
            rule,
            seed: self.seed,
            k: self.k,
            replicas: Vec::new(),
            transport: self.transport,
            mean: self.mean,
        }
    }

    /// A learning-rate schedule η_k for eq. 5.8c.
    pub fn learning_rate_schedule(mut self, schedule: Schedule<T>) -> Self {
        self.learning_rate = schedule;
        self
    }

    /// Number of replicas n.
    pub fn replicas(&self) -> usize {
        self.n
    }

    /// Replica a's parameters x^a (None before the first step or if a ≥ n).
    pub fn replica(&self, a: usize) -> Option<&DVector<T>> {
        self.replicas.get(a).map(|r| &r.state.x)
    }

    /// Replica a's full state (None before the first step or if a ≥ n).
    pub fn replica_state(&self, a: usize) -> Option<&ParleReplica<T, U, G>> {
        self.replicas.get(a)
    }

    /// The coupling ρ_k at outer step k.
    pub fn coupling_at(&self, k: usize) -> T {
        self.coupling.at(k)
    }

    /// The learning rate η_k at outer step k.
    pub fn learning_rate_at(&self, k: usize) -> T {
        self.learning_rate.at(k)
    }

    /// Every hyper-parameter the next step reads, in one order (what [`Optimizer::validate`]
    /// and the step report alike): the coupling ρ_k and learning rate η_k on success.
    fn checked<O: ?Sized>(&self) -> Result<(T, T)>
    where
        G: for<'c> GradientOracle<T, Counted<'c, O>>,
    {
        check::count("replicas", self.n)?;
        self.rule.validate()?;
        let rho = self.coupling.positive_or_inf_at("coupling", self.k)?;
        let lr = self.learning_rate.positive_at("learning_rate", self.k)?;
        GradientOracle::<T, Counted<'_, O>>::validate(&self.oracle, self.k)?;
        Ok((rho, lr))
    }

    /// One outer step with one objective per replica (`objectives.len() == n`, e.g. disjoint
    /// shards, 003 §5.5) or one shared objective (`len == 1`). The master `x` becomes the mean of
    /// the replicas. On error, `x`, the replicas, their rules, generators and k are unchanged.
    pub fn step_replicas<O: Cost<T>>(
        &mut self,
        x: &mut DVector<T>,
        objectives: &[O],
    ) -> Result<Report>
    where
        G: for<'c> GradientOracle<T, Counted<'c, O>> + Send + Sync,
        U: Send + Sync,
    {
        let started = std::time::Instant::now();
        if objectives.len() != 1 && objectives.len() != self.n {
            return Err(Error::InvalidHyperParameter {
                name: "objectives",
                value: objectives.len() as f64,
                reason: "need 1 shared objective or one per replica",
            });
        }
        for o in objectives {
            check::dim(o.dim(), x.len())?;
        }
        // The driver's validation (values are taken as given), in `validate`'s order.
        let (rho, lr) = self.checked::<O>()?;
        let fresh = self.replicas.is_empty();
        if fresh {
            // First step: every replica starts at the master (allocated once).
            self.replicas = (0..self.n)
                .map(|a| {
                    ParleReplica::new(
                        x.clone(),
                        self.rule.clone(),
                        rng::stream(self.seed, a as u64),
                        self.oracle.clone(),
                    )
                })
                .collect();
        } else {
            // Every replica, not only the first: a loaded checkpoint may be inconsistent.
            if self.replicas.len() != self.n {
                return Err(Error::InvalidHyperParameter {
                    name: "replicas",
                    value: self.replicas.len() as f64,
                    reason: "the state holds a different number of replicas than n",
                });
            }
            if let Some(r) = self.replicas.iter().find(|r| r.state.x.len() != x.len()) {
                return Err(Error::DimensionMismatch {
                    expected: r.state.x.len(),
                    got: x.len(),
                });
            }
        }
        let k = self.k;
        let master: &DVector<T> = x;
        if self.mean.len() != x.len() {
            self.mean = DVector::zeros(x.len());
        }
        let nt = T::lit(self.n as f64);
        let mut finite = true;
        let mean = &mut self.mean;
        let counts = Counts::default();
        // One parallel region per outer step. Each replica (broadcast the master; 5.8a–b and
        // the gradient of 5.8c) runs in slices of one Langevin step (L per replica), which the
        // transport may move between threads (n replicas on fewer threads stay balanced), and
        // its last slice commits 5.8c at once (undone by `rollback` if another replica fails).
        // Then 5.8d with η⁽³⁾ = ρ_k/n: the master is the replicas' mean, summed in replica
        // order (into scratch: x is replaced only if every replica and the mean are finite),
        // computed by the worker that finishes last while the others steal its blocks.
        let slices = self.oracle.slices();
        let round = self.transport.round(
            &mut self.replicas,
            slices,
            |a, r, par| {
                let loss = if objectives.len() == 1 {
                    &objectives[0]
                } else {
                    &objectives[a]
                };
                // The transport's word on its threads travels with the replica's loss.
                let loss = Counted::new(loss, &counts).with_parallelism(par);
                let done = r.prepare_slice(master, &loss, k, rho)?;
                if done {
                    r.commit(lr);
                }
                Ok(done)
            },
            |replicas| {
                // Block by block in parallel; each element is summed in replica order whatever
                // the blocks, so the mean does not depend on the thread count.
                finite = crate::kernels::par_blocks_all(mean.as_mut_slice(), &mut [], |o, m, _| {
                    m.fill(T::zero());
                    for r in replicas {
                        // m + 1·x = m + x exactly: the same sum as `mean += x`.
                        crate::kernels::axpy(m, T::one(), &r.state.x.as_slice()[o..o + m.len()]);
                    }
                    for v in m.iter_mut() {
                        *v /= nt;
                    }
                    crate::kernels::all_finite(m)
                })
            },
        );
        if let Err(e) = round {
            for r in &mut self.replicas {
                r.rollback();
            }
            if fresh {
                // A failed first step leaves no replicas behind: the state is as before the call.
                self.replicas.clear();
            }
            return Err(e);
        }
        let mut norm = T::zero();
        for r in &self.replicas {
            norm += r.scratch.grad_norm;
        }
        if !finite {
            // A finite gradient overflowed some x^a (huge η, ρ or momentum): undo the round.
            for r in &mut self.replicas {
                r.rollback();
            }
            if fresh {
                self.replicas.clear();
            }
            return Err(Error::NonFinite {
                what: "replica parameters x^a",
                during: crate::error::site::PARLE,
            });
        }
        for r in &mut self.replicas {
            r.settle();
        }
        // The mean becomes the master by swapping buffers (no copy); the old master's buffer is
        // the next step's scratch.
        std::mem::swap(x, &mut self.mean);
        let report = Report {
            step: self.k,
            learning_rate: Some(lr.as_f64()),
            scope: self.replicas.first().and_then(|r| r.scratch.scope),
            coupling: Some(rho.as_f64()),
            gradient_norm: Some((norm / nt).as_f64()),
            cost_evaluations: counts.costs(),
            gradient_evaluations: counts.gradients(),
            step_time: started.elapsed(),
            ..Report::default()
        };
        self.k += 1;
        Ok(report)
    }
}

impl<T, U, Tr, G, O> Optimizer<T, O> for Parle<T, U, Tr, G>
where
    T: Real,
    U: UpdateRule<T> + Send + Sync,
    Tr: Transport,
    G: for<'c> GradientOracle<T, Counted<'c, O>> + Clone + Send + Sync,
    O: Cost<T>,
{
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report> {
        self.step_replicas(x, std::slice::from_ref(loss))
    }

    fn steps_taken(&self) -> usize {
        self.k
    }

    fn validate(&self) -> Result<()> {
        self.checked::<O>().map(|_| ())
    }
}

impl<T: Real, U: UpdateRule<T>, Tr: Transport> Parle<T, U, Tr> {
    /// The scope γ_k at outer step k.
    pub fn scope_at(&self, k: usize) -> T {
        self.oracle.scope_at(k)
    }
}
