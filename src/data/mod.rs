//! Data for the papers' experiments: a labelled [`Dataset`], the MNIST IDX reader, a built-in
//! synthetic task, and the two ways an algorithm picks examples.
//!
//! | item | concept | paper |
//! |---|---|---|
//! | [`Dataset`] | inputs (one example per column) and labels | 000 §6, 004 §5.2 |
//! | [`idx`] | the IDX file format, gzip'd or raw, read with validation | 000 §6 (MNIST) |
//! | [`mnist`] | the four original IDX files, gzip'd or raw, validated | 000 §6 (MNIST) |
//! | [`synthetic`] | a deterministic Gaussian-blob classification task (no download) | quickstart |
//! | [`batches`] | seeded minibatches and disjoint shards for Parle replicas | 000 §6.2, 003 §5.5 |
//!
//! Inputs are stored as a `features × n` column-major matrix, so one example is one contiguous
//! column and gathering a minibatch is a handful of `memcpy`s (the MLP works with examples as
//! columns, see [`crate::nn`]).

pub mod batches;
pub mod idx;
pub mod mnist;
pub mod synthetic;

pub use batches::{sample_without_replacement, shards};
pub use mnist::Mnist;

use crate::{Error, Real, Result};
use nalgebra::{DMatrix, DVectorView};
use serde::{Deserialize, Serialize};

/// A labelled classification dataset: `n` examples of `features` inputs and a class label
/// `< classes` each (000 §6: MNIST images as 784-vectors with labels 0–9).
///
/// Storage: `inputs` is `features × n`, column-major, example `i` is column `i`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Dataset<T: Real> {
    inputs: DMatrix<T>,
    labels: Vec<u8>,
    classes: usize,
}

impl<T: Real> Dataset<T> {
    /// A dataset from its `features × n` input matrix (one example per column), labels and the
    /// number of classes.
    ///
    /// Errors: [`Error::DimensionMismatch`] if `labels.len() != inputs.ncols()`;
    /// [`Error::InvalidHyperParameter`] if `classes` is not in `1..=256`;
    /// [`Error::Data`] if a label is `>= classes` or an input is not finite.
    pub fn new(inputs: DMatrix<T>, labels: Vec<u8>, classes: usize) -> Result<Self> {
        crate::error::check::dim(inputs.ncols(), labels.len())?;
        if !(1..=256).contains(&classes) {
            return Err(Error::InvalidHyperParameter {
                name: "classes",
                value: classes as f64,
                reason: "must be in 1..=256 (labels are u8)",
            });
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= classes)
        {
            return Err(Error::Data {
                path: "(in-memory dataset)".into(),
                problem: format!("label {l} of example {i} is not < {classes} classes"),
            });
        }
        if let Some(k) = inputs.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data {
                path: "(in-memory dataset)".into(),
                problem: format!(
                    "input of example {} is not finite",
                    k / inputs.nrows().max(1)
                ),
            });
        }
        Ok(Self {
            inputs,
            labels,
            classes,
        })
    }

    /// Number of examples n.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of input features per example (784 for MNIST).
    pub fn features(&self) -> usize {
        self.inputs.nrows()
    }

    /// Number of classes (10 for MNIST).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The `features × n` input matrix (example `i` is column `i`).
    pub fn inputs(&self) -> &DMatrix<T> {
        &self.inputs
    }

    /// All labels, in example order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The inputs of example `i` (a view, no copy). Panics if `i >= len()` (like slice indexing).
    pub fn input(&self, i: usize) -> DVectorView<'_, T> {
        self.inputs.column(i)
    }

    /// The label of example `i`. Panics if `i >= len()` (like slice indexing).
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Number of examples of each class (for checks such as MNIST's published class counts).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }

    /// Copies the inputs of `indices` into `out` (`features × indices.len()`, column-major) and
    /// returns `false` (leaving `out` partly written) if an index is out of range or `out` is too
    /// short. Used by the MLP to gather a minibatch into its workspace without allocating.
    pub fn gather_into(&self, indices: &[usize], out: &mut [T]) -> bool {
        let f = self.features();
        if out.len() < f * indices.len() {
            return false;
        }
        let src = self.inputs.as_slice();
        for (k, &i) in indices.iter().enumerate() {
            if i >= self.len() {
                return false;
            }
            out[k * f..(k + 1) * f].copy_from_slice(&src[i * f..(i + 1) * f]);
        }
        true
    }

    /// A new dataset holding the examples `indices` (copies; e.g. a validation split).
    ///
    /// Errors: [`Error::Data`] if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        let f = self.features();
        let mut data = vec![T::zero(); f * indices.len()];
        if !self.gather_into(indices, &mut data) {
            return Err(Error::Data {
                path: "(in-memory dataset)".into(),
                problem: format!("subset index out of range (n = {})", self.len()),
            });
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Ok(Self {
            inputs: DMatrix::from_vec(f, indices.len(), data),
            labels,
            classes: self.classes,
        })
    }

    /// Converts every input to another precision (e.g. an `f64` dataset for finite-difference
    /// checks of an `f32` run).
    pub fn cast<U: Real>(&self) -> Dataset<U> {
        Dataset {
            inputs: self.inputs.map(|v| U::lit(v.as_f64())),
            labels: self.labels.clone(),
            classes: self.classes,
        }
    }
}
