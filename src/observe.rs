//! Observers: watch any optimizer step by step without touching the algorithm (in the spirit of
//! argmin's observers).
//!
//! [`Observed`] wraps any [`Optimizer`] — the two-step schemes of 000
//! ([`LocalEntropy`](crate::LocalEntropy), [`HeatRegularization`](crate::HeatRegularization)),
//! Entropy-SGD, HEAT, HJ, SAM, Parle, Elastic-SGD, … — and, after every *successful* step, hands
//! the step's [`Report`] to an [`Observer`]: the step index k, the loss estimate if one is known,
//! |x_{k+1} − x_k|, the current τ/γ and ρ and learning rate, the ESS of importance sampling
//! (000 Alg. 4), the counted cost and gradient evaluations and the step's time. A failed step is
//! not observed (x and the optimizer are unchanged), but [`Observer::error`] is told about it.
//!
//! Provided observers: [`CsvObserver`] (one row per step), [`FnObserver`] (any closure), and
//! pairs `(A, B)` to use two at once.
//!
//! ```
//! use wide_valleys::observe::{FnObserver, Observed};
//! use wide_valleys::optim::GradientDescent;
//! use wide_valleys::{Optimizer, Report};
//! use wide_valleys::objectives::Quadratic;
//! use nalgebra::{dmatrix, dvector};
//! let loss = Quadratic::new(dmatrix![2.0, 0.0; 0.0, 1.0], dvector![1.0, -1.0])?;
//! let mut norms = Vec::new();
//! let mut opt = Observed::new(
//!     GradientDescent::new(0.1),
//!     FnObserver::new(|r: &Report| norms.push(r.step_norm.unwrap())),
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

use crate::objective::{Batch, Cost, Gradient};
use crate::optim::Parle;
use crate::optim::{Optimizer, Report};
use crate::update::UpdateRule;
use crate::{Error, Real, Result};
use nalgebra::DVector;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// Receives the [`Report`] of every successful step (argmin-style observer).
///
/// Observing cannot make a step fail: an observer that can fail (e.g. on I/O) keeps its error
/// and reports it itself (see [`CsvObserver::finish`]).
pub trait Observer {
    /// Called after every successful outer step.
    fn observe(&mut self, report: &Report);

    /// Called when a step returned an error (x and the optimizer are unchanged). Default: nothing.
    fn error(&mut self, _step: usize, _error: &Error) {}
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn observe(&mut self, report: &Report) {
        (**self).observe(report)
    }
    fn error(&mut self, step: usize, error: &Error) {
        (**self).error(step, error)
    }
}

impl<O: Observer + ?Sized> Observer for Box<O> {
    fn observe(&mut self, report: &Report) {
        (**self).observe(report)
    }
    fn error(&mut self, step: usize, error: &Error) {
        (**self).error(step, error)
    }
}

impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&mut self, report: &Report) {
        self.0.observe(report);
        self.1.observe(report);
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
    fn observe(&mut self, _: &Report) {}
}

/// Any closure `FnMut(&Report)` as an observer (e.g. to drive a progress bar).
pub struct FnObserver<F>(F);

impl<F: FnMut(&Report)> FnObserver<F> {
    /// Wraps the closure.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F: FnMut(&Report)> Observer for FnObserver<F> {
    fn observe(&mut self, report: &Report) {
        (self.0)(report)
    }
}

/// Writes one CSV row per step: `step,loss,step_norm,scope,coupling,learning_rate,gradient_norm,
/// ess,cost_evaluations,gradient_evaluations,step_seconds,elapsed_seconds` (empty cell = not
/// known; `scope` is τ_k or γ_k, `coupling` ρ_k; `elapsed_seconds` runs from the start of the
/// first step this observer saw). Each row is flushed, so the log of a run that is killed is complete up to its last step.
///
/// Optional leading label columns ([`CsvObserver::with_label_columns`], e.g. `method,seed`) let
/// one log hold several runs: set their values with [`CsvObserver::set_labels`] before each run.
pub struct CsvObserver<W: Write> {
    out: W,
    header_written: bool,
    error: Option<std::io::Error>,
    label_columns: Vec<String>,
    labels: Vec<String>,
    started: Option<Instant>,
}

/// The CSV header written by [`CsvObserver`].
pub const CSV_HEADER: &str = "step,loss,step_norm,scope,coupling,learning_rate,gradient_norm,ess,cost_evaluations,gradient_evaluations,step_seconds,elapsed_seconds";

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
            started: None,
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
            return Err(Error::from(e));
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_row(&mut self, o: &Report) -> std::io::Result<()> {
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
        let now = Instant::now();
        let started = *self
            .started
            .get_or_insert_with(|| now.checked_sub(o.step_time).unwrap_or(now));
        writeln!(
            self.out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            o.step,
            opt(o.loss),
            opt(o.step_norm),
            opt(o.scope),
            opt(o.coupling),
            opt(o.learning_rate),
            opt(o.gradient_norm),
            opt(o.ess),
            o.cost_evaluations,
            o.gradient_evaluations,
            o.step_time.as_secs_f64(),
            (now - started).as_secs_f64()
        )?;
        self.out.flush()
    }
}

impl<W: Write> Observer for CsvObserver<W> {
    fn observe(&mut self, report: &Report) {
        if self.error.is_none() {
            if let Err(e) = self.write_row(report) {
                self.error = Some(e);
            }
        }
    }
}

/// An optimizer `S` whose every step is reported to an observer `Obs`.
///
/// The algorithm is untouched: the wrapper passes on the step's own [`Report`], completed with
/// |x_{k+1} − x_k| where the step did not know it (from a copy of x_k, a buffer allocated once)
/// and with the full-batch loss every [`Observed::loss_every`] steps. Checkpoint the inner
/// optimizer ([`Observed::inner`]), not the wrapper.
pub struct Observed<S, Obs> {
    inner: S,
    observer: Obs,
    prev: Vec<f64>,
    loss_every: usize,
}

impl<S, Obs: Observer> Observed<S, Obs> {
    /// Wraps `inner`; its reports go to `observer`.
    pub fn new(inner: S, observer: Obs) -> Self {
        Self {
            inner,
            observer,
            prev: Vec::new(),
            loss_every: 0,
        }
    }

    /// Evaluates f(x_{k+1}) on the full batch every `n` steps and reports it as [`Report::loss`]
    /// (one extra loss evaluation, not counted in the report; `n = 0` never, the default).
    pub fn loss_every(mut self, n: usize) -> Self {
        self.loss_every = n;
        self
    }

    /// The wrapped optimizer (e.g. to checkpoint it).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped optimizer, mutably (e.g. after restoring a checkpoint).
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

    /// Unwraps into the optimizer and the observer.
    pub fn into_parts(self) -> (S, Obs) {
        (self.inner, self.observer)
    }

    fn remember<T: Real>(&mut self, x: &DVector<T>) {
        self.prev.clear();
        self.prev.extend(x.iter().map(|v| v.as_f64()));
    }

    /// Completes and passes on the report of a step from the x_k remembered to `x` = x_{k+1}.
    fn observe_result<T: Real, O: Cost<T> + ?Sized>(
        &mut self,
        x: &DVector<T>,
        loss: &O,
        result: &mut Result<Report>,
        k: usize,
    ) {
        match result {
            Ok(r) => {
                if r.step_norm.is_none() {
                    let d2 = x.iter().zip(&self.prev);
                    let d2 = d2.map(|(a, b)| (a.as_f64() - b).powi(2)).sum::<f64>();
                    r.step_norm = Some(d2.sqrt());
                }
                if self.loss_every > 0 && (r.step + 1) % self.loss_every == 0 {
                    r.loss = Some(loss.cost(x, &Batch::Full).as_f64());
                }
                self.observer.observe(r);
            }
            Err(e) => self.observer.error(k, e),
        }
    }
}

impl<T: Real, O: Cost<T> + ?Sized, S: Optimizer<T, O>, Obs: Observer> Optimizer<T, O>
    for Observed<S, Obs>
{
    fn step(&mut self, x: &mut DVector<T>, loss: &O) -> Result<Report> {
        let k = self.inner.steps_taken();
        self.remember(x);
        let mut result = self.inner.step(x, loss);
        self.observe_result(x, loss, &mut result, k);
        result
    }

    fn steps_taken(&self) -> usize {
        self.inner.steps_taken()
    }

    fn validate(&self) -> Result<()> {
        self.inner.validate()
    }
}

impl<T, U, Tr, G, Obs> Observed<Parle<T, U, Tr, G>, Obs>
where
    T: Real,
    U: UpdateRule<T> + Send + Sync,
    Tr: crate::optim::Transport,
    G: Clone + Send + Sync,
    Obs: Observer,
{
    /// One observed Parle step with one objective per replica (003 §5.5); see
    /// [`Parle::step_replicas`]. The loss reported with [`Observed::loss_every`] is that of the
    /// first objective.
    pub fn step_replicas<O: Gradient<T>>(
        &mut self,
        x: &mut DVector<T>,
        objectives: &[O],
    ) -> Result<Report>
    where
        G: for<'c> crate::smoothing::GradientOracle<T, crate::objective::Counted<'c, O>>,
    {
        let k = <Parle<T, U, Tr, G> as Optimizer<T, O>>::steps_taken(&self.inner);
        self.remember(x);
        let mut result = self.inner.step_replicas(x, objectives);
        if let Some(first) = objectives.first() {
            self.observe_result(x, first, &mut result, k);
        }
        result
    }
}
