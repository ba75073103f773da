//! Shared plumbing for the examples: output directory, CSV, PNG line charts (plotters), progress bars
//! (indicatif) and the papers' reference numbers. Not part of the library.
#![allow(dead_code)]

use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Creates (if needed) and returns the output directory.
pub fn out_dir(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
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
        let f =
            File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        let mut w = BufWriter::new(f);
        writeln!(w, "{}", header.join(",")).expect("write csv header");
        Self {
            w,
            path: path.to_path_buf(),
        }
    }

    /// Writes one row of already formatted fields.
    pub fn row(&mut self, fields: &[String]) {
        writeln!(self.w, "{}", fields.join(",")).expect("write csv row");
    }

    /// Flushes and returns the path.
    pub fn finish(mut self) -> PathBuf {
        self.w.flush().expect("flush csv");
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
