//! MNIST (000 §6, 004 §5.2): the four original IDX files, train/test split as in the files,
//! pixels scaled to [0, 1], every file validated (see [`idx`] for the policy).
//!
//! The directory is a path argument ([`Mnist::load`]) or the `MNIST_DIR` environment variable
//! ([`Mnist::from_env`]); nothing is hard-coded. Each file may be gzip'd (`*.gz`, as distributed)
//! or already decompressed (the same name without `.gz`).

use super::idx;
use super::Dataset;
use crate::{Error, Real, Result};
use nalgebra::DMatrix;
use std::path::{Path, PathBuf};

/// Name of the training images (60,000 × 28 × 28), without the `.gz` suffix.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Name of the training labels (60,000), without the `.gz` suffix.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Name of the test images (10,000 × 28 × 28), without the `.gz` suffix.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Name of the test labels (10,000), without the `.gz` suffix.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// The environment variable [`Mnist::from_env`] reads.
pub const ENV_VAR: &str = "MNIST_DIR";
/// MNIST images are 28 × 28.
pub const SIDE: usize = 28;
/// MNIST has 10 classes (digits 0–9).
pub const CLASSES: usize = 10;

const HOW_TO_GET: &str = "MNIST needs the four files train-images-idx3-ubyte.gz, \
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz \
(the original distribution of LeCun, Cortes & Burges, e.g. from a mirror of \
http://yann.lecun.com/exdb/mnist/); put them (gzip'd or decompressed) in one directory and pass \
that directory or set MNIST_DIR to it";

/// The MNIST training set (60,000 examples) and test set (10,000), as [`Dataset`]s of 784
/// features in [0, 1] (pixel / 255, row-major) and labels 0–9.
#[derive(Clone, Debug)]
pub struct Mnist<T: Real> {
    /// The 60,000 training examples, in file order.
    pub train: Dataset<T>,
    /// The 10,000 held-out test examples, in file order.
    pub test: Dataset<T>,
}

/// `dir/name.gz` if it exists, else `dir/name` if it exists, else a message naming both.
fn locate(dir: &Path, name: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(Error::Data {
        path: gz.display().to_string(),
        problem: format!(
            "missing: neither {name}.gz nor {name} is in {}. {HOW_TO_GET}",
            dir.display()
        ),
    })
}

/// Reads one images + labels pair into a dataset, checking 28×28, labels < 10 and equal counts.
fn load_split<T: Real>(dir: &Path, images: &str, labels: &str) -> Result<Dataset<T>> {
    let ipath = locate(dir, images)?;
    let lpath = locate(dir, labels)?;
    let img = idx::read_images(&ipath)?;
    if img.rows != SIDE || img.cols != SIDE {
        return Err(Error::Data {
            path: ipath.display().to_string(),
            problem: format!(
                "bad dimensions: images are {}×{}, MNIST images are {SIDE}×{SIDE}",
                img.rows, img.cols
            ),
        });
    }
    let lab = idx::read_labels(&lpath)?;
    if let Some((i, &l)) = lab.iter().enumerate().find(|(_, &l)| l as usize >= CLASSES) {
        return Err(Error::Data {
            path: lpath.display().to_string(),
            problem: format!("label {l} of example {i} is not a digit 0–9"),
        });
    }
    if lab.len() != img.count {
        return Err(Error::Data {
            path: lpath.display().to_string(),
            problem: format!(
                "{} labels, but {} holds {} images",
                lab.len(),
                ipath.display(),
                img.count
            ),
        });
    }
    // One lookup table of the 256 scaled values: exact, and no per-pixel division.
    let table: Vec<T> = (0..256).map(|v| T::lit(v as f64 / 255.0)).collect();
    let pixels: Vec<T> = img.pixels.iter().map(|&p| table[p as usize]).collect();
    let inputs = DMatrix::from_vec(SIDE * SIDE, img.count, pixels);
    Dataset::new(inputs, lab, CLASSES)
}

impl<T: Real> Mnist<T> {
    /// Loads MNIST from `dir` (the four standard file names, each `.gz` or raw).
    ///
    /// Errors: [`Error::Data`] naming the file that is missing (with how to get it), corrupt,
    /// truncated, not 28×28, has a label ≥ 10, or whose label count differs from its image count.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        // Report a missing file before spending a second decoding the others.
        for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
            locate(dir, name)?;
        }
        Ok(Self {
            train: load_split(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
            test: load_split(dir, TEST_IMAGES, TEST_LABELS)?,
        })
    }

    /// Loads MNIST from the directory in the `MNIST_DIR` environment variable.
    ///
    /// Errors: [`Error::Data`] with path `MNIST_DIR` if the variable is not set, else as
    /// [`Mnist::load`].
    pub fn from_env() -> Result<Self> {
        match std::env::var_os(ENV_VAR) {
            Some(dir) => Self::load(PathBuf::from(dir)),
            None => Err(Error::Data {
                path: ENV_VAR.into(),
                problem: format!("environment variable {ENV_VAR} is not set. {HOW_TO_GET}"),
            }),
        }
    }
}
