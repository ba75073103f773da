//! Shared plumbing for the examples: output directory, CSV, PNG line charts (plotters), progress bars
//! (indicatif) and the papers' reference numbers. Not part of the library.
//!
//! Every run is watched through the crate's observers: the optimizer (or two-step scheme) is
//! wrapped in [`Observed`] with a [`RunObserver`] = ([`ProgressObserver`], [`StepLog`]), so the
//! progress bar moves and the step log `<out>/<example>_steps.csv` gets its row from the same
//! [`Report`] of each outer step.
#![allow(dead_code)]

use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use std::cell::{Cell, RefCell};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use wide_valleys::observe::{CsvObserver, Observer};
use wide_valleys::Report;

/// Ends the example with a message and exit status 2 (an output it cannot write is the user's
/// input, not a bug: no panic, no backtrace).
pub fn fail(what: &str, path: &Path, e: impl std::fmt::Display) -> ! {
    eprintln!("error: cannot {what} {}: {e}", path.display());
    std::process::exit(2)
}

/// Creates (if needed) and returns the output directory.
pub fn out_dir(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap_or_else(|e| fail("create the output directory", dir, e));
    dir.to_path_buf()
}

/// A CSV file written row by row.
pub struct Csv {
    w: BufWriter<File>,
    path: PathBuf,
}

impl Csv {
    /// Creates `path` and writes the header row.
    pub fn create(path: &Path, header: &[&str]) -> Self {
        let f = File::create(path).unwrap_or_else(|e| fail("create", path, e));
        let mut w = BufWriter::new(f);
        writeln!(w, "{}", header.join(",")).unwrap_or_else(|e| fail("write", path, e));
        Self {
            w,
            path: path.to_path_buf(),
        }
    }

    /// Writes one row of already formatted fields.
    pub fn row(&mut self, fields: &[String]) {
        if let Err(e) = writeln!(self.w, "{}", fields.join(",")) {
            fail("write", &self.path, e)
        }
    }

    /// Flushes and returns the path.
    pub fn finish(mut self) -> PathBuf {
        if let Err(e) = self.w.flush() {
            fail("write", &self.path, e)
        }
        self.path
    }
}

/// One curve of a line chart.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Optional band (x, lo, hi) drawn around the curve (spread over seeds).
    pub band: Vec<(f64, f64, f64)>,
}

impl Series {
    /// A curve without a band.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            band: Vec::new(),
        }
    }
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(0, 0, 0),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// Colour `i` of the palette (red, blue, green, black as in 000 Figure 4, then more).
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One chart panel: (title, x label, y label, series, optional y range).
pub type Panel<'a> = (String, &'a str, &'a str, Vec<Series>, Option<(f64, f64)>);

/// Draws several panels of line charts side by side into one PNG.
pub fn line_charts(path: &Path, panels: &[Panel<'_>]) -> Result<(), Box<dyn std::error::Error>> {
    let n = panels.len().max(1) as u32;
    let root = BitMapBackend::new(path, (560 * n, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, n as usize));
    for (area, (title, xl, yl, series, yr)) in areas.iter().zip(panels) {
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (x0, x1) = bounds(xs);
        let (y0, y1) = match yr {
            Some(r) => *r,
            None => bounds(
                series
                    .iter()
                    .flat_map(|s| {
                        s.points
                            .iter()
                            .map(|p| p.1)
                            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
                    })
                    .filter(|v| v.is_finite()),
            ),
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart.configure_mesh().x_desc(*xl).y_desc(*yl).draw()?;
        for (i, s) in series.iter().enumerate() {
            let c = colour(i);
            if !s.band.is_empty() {
                let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
                poly.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
                chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.15).filled())))?;
            }
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().cloned().filter(|p| p.1.is_finite()),
                    c.stroke_width(2),
                ))?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.04 * (hi - lo);
    (lo - pad, hi + pad)
}

/// A progress bar with the crate's style (hidden when stderr is not a terminal, e.g. in CI).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {msg} ({elapsed}<{eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}

/// An indicatif bar advanced by observations: one tick per successful outer step (or, with
/// [`ProgressObserver::by_time`], the bar counts seconds of step time), with the step's loss
/// estimate, τ, γ, ρ and ESS, as far as the algorithm reports them, in the message.
///
/// Cheap to clone (the bar, the note and the time are shared): keep a clone to add a note such
/// as the last held-out accuracy ([`ProgressObserver::note`]) and to read the summed step time
/// ([`ProgressObserver::step_seconds`]).
#[derive(Clone)]
pub struct ProgressObserver {
    pb: ProgressBar,
    note: Rc<RefCell<String>>,
    by_time: bool,
    seconds: Rc<Cell<f64>>,
}

impl ProgressObserver {
    /// Ticks `pb` once per step.
    pub fn new(pb: &ProgressBar) -> Self {
        Self {
            pb: pb.clone(),
            note: Rc::default(),
            by_time: false,
            seconds: Rc::default(),
        }
    }

    /// Sets the bar's position to the summed step time in whole seconds (for runs with a time
    /// budget; evaluation time between steps is not counted).
    pub fn by_time(pb: &ProgressBar) -> Self {
        Self {
            by_time: true,
            ..Self::new(pb)
        }
    }

    /// Text shown before the step values (e.g. `acc 0.871`), until the next note.
    pub fn note(&self, text: String) {
        *self.note.borrow_mut() = text;
    }

    /// Summed [`Report::step_time`] of the steps observed so far, in seconds: the time of
    /// the algorithm's steps alone (observing them is not counted).
    pub fn step_seconds(&self) -> f64 {
        self.seconds.get()
    }

    /// The bar.
    pub fn bar(&self) -> &ProgressBar {
        &self.pb
    }
}

/// Compact number: fixed for ordinary magnitudes, scientific otherwise.
fn num(v: f64) -> String {
    if v != 0.0 && !(1e-2..1e4).contains(&v.abs()) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

impl Observer for ProgressObserver {
    fn observe(&mut self, o: &Report) {
        self.seconds
            .set(self.seconds.get() + o.step_time.as_secs_f64());
        if self.by_time {
            self.pb.set_position(self.seconds.get() as u64);
        } else {
            self.pb.inc(1);
        }
        let mut msg = self.note.borrow().clone();
        let fields = [
            ("loss", o.loss),
            ("scope", o.scope),
            ("ρ", o.coupling),
            ("ESS", o.ess),
        ];
        for (name, v) in fields {
            if let Some(v) = v {
                msg += &format!(" {name} {}", num(v));
            }
        }
        self.pb.set_message(msg.trim_start().to_string());
    }
}

/// The step log of one example: `<dir>/<name>_steps.csv`, one row per outer step of every run,
/// written by the crate's [`CsvObserver`] with label columns naming the run (e.g. `method,seed`).
///
/// A handle made by [`StepLog::run`] writes that run's labels; all handles share the file.
#[derive(Clone)]
pub struct StepLog {
    csv: Rc<RefCell<CsvObserver<BufWriter<File>>>>,
    path: PathBuf,
    labels: Vec<String>,
}

impl StepLog {
    /// Creates `<dir>/<name>_steps.csv` (and `dir`) with the given label columns.
    pub fn create(dir: &Path, name: &str, label_columns: &[&str]) -> Self {
        let path = out_dir(dir).join(format!("{name}_steps.csv"));
        let csv = CsvObserver::create(&path)
            .unwrap_or_else(|e| fail("create", &path, e))
            .with_label_columns(label_columns);
        Self {
            csv: Rc::new(RefCell::new(csv)),
            path,
            labels: Vec::new(),
        }
    }

    /// A handle whose rows carry `labels` (one per label column).
    pub fn run(&self, labels: &[&str]) -> Self {
        Self {
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ..self.clone()
        }
    }

    /// The file's path; warns if a row could not be written (rows are flushed as they go).
    pub fn finish(&self) -> PathBuf {
        if let Some(e) = self.csv.borrow().io_error() {
            eprintln!("warning: step log {} incomplete: {e}", self.path.display());
        }
        self.path.clone()
    }
}

impl Observer for StepLog {
    fn observe(&mut self, o: &Report) {
        let mut csv = self.csv.borrow_mut();
        csv.set_labels(&self.labels);
        csv.observe(o);
    }
}

/// What watches one run: its progress bar and its rows of the step log.
pub type RunObserver = (ProgressObserver, StepLog);

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}
