//! Observers: watch any scheme or optimizer step by step without touching the algorithm
//! (issue 5; in the spirit of argmin's observers).
//!
//! [`Observed`] wraps a two-step scheme of 000 ([`TwoStep`]: [`LocalEntropy`](crate::LocalEntropy),
//! [`HeatRegularization`](crate::HeatRegularization)) or any [`Optimizer`] (Entropy-SGD, HEAT, HJ,
//! SAM, Parle, Elastic-SGD, …) and, after every *successful* step, hands an [`Observation`] to an
//! [`Observer`]: the step index k, the loss estimate if one is known, |x_{k+1} − x_k|, the current
//! τ / γ / ρ and learning rate, the ESS of importance sampling (000 Alg. 4), the cost and gradient
//! evaluations and the elapsed time. A failed step is not observed (x is unchanged, 000's
//! schemes and the optimizers roll back), but [`Observer::error`] is told about it.
//!
//! Provided observers: [`CsvObserver`] (one row per step), [`FnObserver`] (any closure), and
//! pairs `(A, B)` to use two at once.
//!
//! ```
//! use wide_valleys::observe::{FnObserver, Observed};
//! use wide_valleys::optimizers::{GradientDescent, Optimizer};
//! use wide_valleys::objectives::Quadratic;
//! use nalgebra::{dmatrix, dvector};
//! let loss = Quadratic::new(dmatrix![2.0, 0.0; 0.0, 1.0], dvector![1.0, -1.0]);
//! let mut norms = Vec::new();
//! let mut opt = Observed::new(
//!     GradientDescent::new(0.1)?,
//!     FnObserver::new(|o: &wide_valleys::observe::Observation| norms.push(o.step_norm)),
//! );
//! let mut x = dvector![1.0, 1.0];
//! for _ in 0..3 {
//!     opt.step(&mut x, &loss)?;
//! }
//! drop(opt);
//! assert_eq!(norms.len(), 3);
//! assert!(norms[2] < norms[0]); // gradient descent on a quadratic: steps shrink
//! # Ok::<(), wide_valleys::Error>(())
//! ```

use crate::kl::KlStep;
use crate::objective::{Batch, Cost, Gradient};
use crate::optimizers::{Optimizer, Parle, Report};
use crate::schemes::{StepReport, TwoStep};
use crate::update::UpdateRule;
use crate::{Error, Real, Result};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// What one successful outer step did, in the papers' words (all values as `f64`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The outer step index k that was performed (0 for the first step).
    pub step: usize,
    /// An estimate of the objective, if known: for the two-step schemes with importance sampling,
    /// F̂_τ(x_k) = −log((1/J) Σ e^{−f(y_j)}) (000 eq. 2, Alg. 4); for optimizers, f(x_{k+1}) on the
    /// full batch when [`Observed::loss_every`] asks for it.
    pub loss: Option<f64>,
    /// |x_{k+1} − x_k| (Euclidean; for Parle, the master's step).
    pub step_norm: f64,
    /// τ_k of the two-step schemes (000 eq. 6, 18), a variance.
    pub tau: Option<f64>,
    /// The scope γ_k of Entropy-SGD / HEAT / HJ / Parle (a variance, 003 §3.2.3, eq. 5.10).
    pub gamma: Option<f64>,
    /// The elastic coupling ρ_k of Elastic-SGD / Parle (a variance, 003 eq. 5.8).
    pub rho: Option<f64>,
    /// The learning rate η_k of the outer update (optimizers only).
    pub learning_rate: Option<f64>,
    /// Norm of the gradient fed to the update rule (optimizers only).
    pub gradient_norm: Option<f64>,
    /// Effective sample size of the importance weights (000 Alg. 4), if the estimator has one.
    pub ess: Option<f64>,
    /// Loss evaluations f(y) made by the step, if counted (two-step schemes).
    pub cost_evaluations: usize,
    /// Gradient evaluations ∇f(y) made by the step.
    pub gradient_evaluations: usize,
    /// Wall time of this step.
    pub step_time: Duration,
    /// Wall time since the first observed step started.
    pub elapsed: Duration,
}

/// Receives one [`Observation`] per successful step (argmin-style observer).
///
/// Observing cannot make a step fail: an observer that can fail (e.g. on I/O) keeps its error
/// and reports it itself (see [`CsvObserver::finish`]).
pub trait Observer {
    /// Called after every successful outer step.
    fn observe(&mut self, observation: &Observation);

    /// Called when a step returned an error (x and the optimizer are unchanged). Default: nothing.
    fn error(&mut self, _step: usize, _error: &Error) {}
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn observe(&mut self, observation: &Observation) {
        (**self).observe(observation)
    }
    fn error(&mut self, step: usize, error: &Error) {
        (**self).error(step, error)
    }
}

impl<O: Observer + ?Sized> Observer for Box<O> {
    fn observe(&mut self, observation: &Observation) {
        (**self).observe(observation)
    }
    fn error(&mut self, step: usize, error: &Error) {
        (**self).error(step, error)
    }
}

impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&mut self, observation: &Observation) {
        self.0.observe(observation);
        self.1.observe(observation);
    }
    fn error(&mut self, step: usize, error: &Error) {
        self.0.error(step, error);
        self.1.error(step, error);
    }
}

/// An observer that does nothing (the unobserved run).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&mut self, _: &Observation) {}
}

/// Any closure `FnMut(&Observation)` as an observer (e.g. to drive a progress bar).
pub struct FnObserver<F>(F);

impl<F: FnMut(&Observation)> FnObserver<F> {
    /// Wraps the closure.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F: FnMut(&Observation)> Observer for FnObserver<F> {
    fn observe(&mut self, observation: &Observation) {
        (self.0)(observation)
    }
}

/// Writes one CSV row per step: `step,loss,step_norm,tau,gamma,rho,learning_rate,gradient_norm,
/// ess,cost_evaluations,gradient_evaluations,step_seconds,elapsed_seconds` (empty cell = not
/// known). Each row is flushed, so the log of a run that is killed is complete up to its last step.
///
/// Optional leading label columns ([`CsvObserver::with_label_columns`], e.g. `method,seed`) let
/// one log hold several runs: set their values with [`CsvObserver::set_labels`] before each run.
pub struct CsvObserver<W: Write> {
    out: W,
    header_written: bool,
    error: Option<std::io::Error>,
    label_columns: Vec<String>,
    labels: Vec<String>,
}

/// The CSV header written by [`CsvObserver`].
pub const CSV_HEADER: &str = "step,loss,step_norm,tau,gamma,rho,learning_rate,gradient_norm,ess,cost_evaluations,gradient_evaluations,step_seconds,elapsed_seconds";

impl CsvObserver<BufWriter<File>> {
    /// Creates (truncates) the CSV file at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(BufWriter::new(File::create(path)?)))
    }
}

impl<W: Write> CsvObserver<W> {
    /// Logs to any writer.
    pub fn new(out: W) -> Self {
        Self {
            out,
            header_written: false,
            error: None,
            label_columns: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Prepends label columns (e.g. `["method", "seed"]`) to the header and to every row, so that
    /// one log holds several runs. Call before the first step is observed.
    pub fn with_label_columns<S: AsRef<str>>(mut self, columns: &[S]) -> Self {
        self.label_columns = columns.iter().map(|c| c.as_ref().to_string()).collect();
        self
    }

    /// The label values written in the label columns of the following rows, in column order:
    /// a missing value leaves its cell empty, values beyond the label columns are ignored.
    /// Cells with a comma, quote or line break are quoted (RFC 4180).
    pub fn set_labels<I>(&mut self, values: I)
    where
        I: IntoIterator,
        I::Item: std::fmt::Display,
    {
        self.labels.clear();
        self.labels
            .extend(values.into_iter().map(|v| v.to_string()));
    }

    /// The first write error, if any (later rows are then skipped).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }

    /// Flushes and returns the writer, or the first write error.
    pub fn finish(mut self) -> Result<W> {
        if let Some(e) = self.error.take() {
            return Err(Error::Io(e));
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_row(&mut self, o: &Observation) -> std::io::Result<()> {
        fn opt(v: Option<f64>) -> String {
            v.map(|v| v.to_string()).unwrap_or_default()
        }
        // RFC 4180: quote a cell that holds a separator, a quote or a line break.
        fn cell(v: &str) -> std::borrow::Cow<'_, str> {
            if v.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", v.replace('"', "\"\"")).into()
            } else {
                v.into()
            }
        }
        if !self.header_written {
            for c in &self.label_columns {
                write!(self.out, "{},", cell(c))?;
            }
            writeln!(self.out, "{CSV_HEADER}")?;
            self.header_written = true;
        }
        for i in 0..self.label_columns.len() {
            let v = self.labels.get(i).map(String::as_str).unwrap_or("");
            write!(self.out, "{},", cell(v))?;
        }
        writeln!(
            self.out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            o.step,
            opt(o.loss),
            o.step_norm,
            opt(o.tau),
            opt(o.gamma),
            opt(o.rho),
            opt(o.learning_rate),
            opt(o.gradient_norm),
            opt(o.ess),
            o.cost_evaluations,
            o.gradient_evaluations,
            o.step_time.as_secs_f64(),
            o.elapsed.as_secs_f64()
        )?;
        self.out.flush()
    }
}

impl<W: Write> Observer for CsvObserver<W> {
    fn observe(&mut self, observation: &Observation) {
        if self.error.is_none() {
            if let Err(e) = self.write_row(observation) {
                self.error = Some(e);
            }
        }
    }
}

/// A scheme or optimizer `S` whose every step is reported to an observer `Obs`.
///
/// The algorithm is untouched: the wrapper times the step, keeps a copy of x_k (a buffer
/// allocated once) to measure |x_{k+1} − x_k|, and builds the [`Observation`] from the step's own
/// report. Checkpoint the inner object ([`Observed::inner`]), not the wrapper.
pub struct Observed<S, Obs> {
    inner: S,
    observer: Obs,
    start: Option<Instant>,
    prev: Vec<f64>,
    loss_every: usize,
}

impl<S, Obs: Observer> Observed<S, Obs> {
    /// Wraps `inner`; observations go to `observer`.
    pub fn new(inner: S, observer: Obs) -> Self {
        Self {
            inner,
            observer,
            start: None,
            prev: Vec::new(),
            loss_every: 0,
        }
    }

    /// For optimizers, evaluates f(x_{k+1}) on the full batch every `n` steps and reports it as
    /// [`Observation::loss`] (costs one extra loss evaluation; `n = 0` never, the default).
    pub fn loss_every(mut self, n: usize) -> Self {
        self.loss_every = n;
        self
    }

    /// The wrapped scheme or optimizer (e.g. to checkpoint it).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped scheme or optimizer, mutably (e.g. after restoring a checkpoint).
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The observer.
    pub fn observer(&self) -> &Obs {
        &self.observer
    }

    /// The observer, mutably.
    pub fn observer_mut(&mut self) -> &mut Obs {
        &mut self.observer
    }

    /// Unwraps into the scheme or optimizer and the observer.
    pub fn into_parts(self) -> (S, Obs) {
        (self.inner, self.observer)
    }

    fn remember<T: Real>(&mut self, x: &DVector<T>) -> Instant {
        let now = Instant::now();
        self.start.get_or_insert(now);
        self.prev.clear();
        self.prev.extend(x.iter().map(|v| v.as_f64()));
        now
    }

    fn step_norm<T: Real>(&self, x: &DVector<T>) -> f64 {
        x.iter()
            .zip(&self.prev)
            .map(|(a, b)| (a.as_f64() - b).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    fn elapsed(&self, t0: Instant) -> (Duration, Duration) {
        let now = Instant::now();
        (now - t0, now - self.start.unwrap_or(t0))
    }

    fn observe_report<T: Real, O: Cost<T> + ?Sized>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        t0: Instant,
        result: &Result<Report<T>>,
        k: usize,
    ) {
        match result {
            Ok(r) => {
                let (step_time, elapsed) = self.elapsed(t0);
                let loss = if self.loss_every > 0 && (r.step + 1) % self.loss_every == 0 {
                    Some(loss.cost(x, &Batch::Full).as_f64())
                } else {
                    None
                };
                let o = Observation {
                    step: r.step,
                    loss,
                    step_norm: self.step_norm(x),
                    tau: None,
                    gamma: r.scope.map(|v| v.as_f64()),
                    rho: r.coupling.map(|v| v.as_f64()),
                    learning_rate: Some(r.learning_rate.as_f64()),
                    gradient_norm: Some(r.gradient_norm.as_f64()),
                    ess: None,
                    cost_evaluations: 0,
                    gradient_evaluations: r.gradient_evaluations,
                    step_time,
                    elapsed,
                };
                self.observer.observe(&o);
            }
            Err(e) => self.observer.error(k, e),
        }
    }
}

impl<T: Real, K, Obs: Observer> Observed<TwoStep<T, K>, Obs> {
    /// One observed outer step of the two-step scheme (000 Alg. 1 / Alg. 2); see [`TwoStep::step`].
    pub fn step<O>(&mut self, x: &mut DVector<T>, loss: &O) -> Result<StepReport>
    where
        O: Cost<T> + ?Sized,
        K: KlStep<T, O>,
    {
        let k = self.inner.k();
        let t0 = self.remember(x);
        let result = self.inner.step(x, loss);
        match &result {
            Ok(r) => {
                let (step_time, elapsed) = self.elapsed(t0);
                let d = &r.diagnostics;
                let o = Observation {
                    step: r.k,
                    loss: d.log_mean_weight.map(|l| -l),
                    step_norm: r.step_norm,
                    tau: Some(r.tau),
                    gamma: None,
                    rho: None,
                    learning_rate: None,
                    gradient_norm: None,
                    ess: d.ess,
                    cost_evaluations: d.cost_evaluations,
                    gradient_evaluations: d.gradient_evaluations,
                    step_time,
                    elapsed,
                };
                self.observer.observe(&o);
            }
            Err(e) => self.observer.error(k, e),
        }
        result
    }
}

impl<T: Real, O: Gradient<T>, S: Optimizer<T, O>, Obs: Observer> Optimizer<T, O>
    for Observed<S, Obs>
{
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report<T>> {
        let k = self.inner.steps_taken();
        let t0 = self.remember(x);
        let result = self.inner.step(x, loss);
        self.observe_report(x, loss, t0, &result, k);
        result
    }

    fn steps_taken(&self) -> usize {
        self.inner.steps_taken()
    }
}

impl<T, U, Tr, Obs> Observed<Parle<T, U, Tr>, Obs>
where
    T: Real,
    U: UpdateRule<T>,
    Tr: crate::optimizers::Transport,
    Obs: Observer,
{
    /// One observed Parle step with one objective per replica (003 §5.5); see
    /// [`Parle::step_replicas`]. The loss reported with [`Observed::loss_every`] is that of the
    /// first objective.
    pub fn step_replicas<O: Gradient<T>>(
        &mut self,
        x: &mut DVector<T>,
        objectives: &[O],
    ) -> Result<Report<T>> {
        let k = <Parle<T, U, Tr> as Optimizer<T, O>>::steps_taken(&self.inner);
        let t0 = self.remember(x);
        let result = self.inner.step_replicas(x, objectives);
        if let Some(first) = objectives.first() {
            self.observe_report(x, first, t0, &result, k);
        }
        result
    }
}
