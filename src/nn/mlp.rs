//! The dense MLP's architecture and its flat parameter layout (000 §6.1: 784→10 and 784→200→10;
//! 004 §5.2 / 003 §3.3: mnistfc 784→1024→1024→10 with dropout).

use super::pass;
use super::workspace::{Workspace, DEFAULT_CHUNK};
use crate::data::Dataset;
use crate::rng::Prng;
use crate::{Error, Real, Result};
use nalgebra::{DMatrixView, DVector, DVectorView};
use serde::{Deserialize, Serialize};

/// A dense multilayer perceptron: affine layers with ReLU between them, inverted dropout on the
/// hidden activations (optional, as in mnistfc, 004 §5.2), softmax cross-entropy at the output.
///
/// The network is only a *shape*: its parameters are one flat `DVector<T>` of length
/// [`Mlp::num_params`], so every scheme and optimizer of the crate applies to it unchanged.
///
/// # Parameter layout
/// Layer ℓ = 0, 1, … maps `sizes[ℓ]` inputs to `sizes[ℓ+1]` outputs. Its block in the flat vector
/// is the weight matrix W_ℓ (`sizes[ℓ+1] × sizes[ℓ]`, **column-major**, entry (i, j) at
/// `weight_offset(ℓ) + i + j·sizes[ℓ+1]`) followed by the bias b_ℓ (`sizes[ℓ+1]` entries); the
/// blocks follow each other in layer order. The layers read W_ℓ in place as a
/// [`DMatrixView`] (no copy). 784→200→10 has 784·200 + 200 + 200·10 + 10 = 159,010 parameters
/// (000 §6.1), 784→10 has 7,850.
///
/// # Forward pass (examples as columns)
/// A₀ = X (`sizes[0] × B`), Zℓ₊₁ = Wℓ Aℓ + bℓ, Aℓ₊₁ = dropout(ReLU(Zℓ₊₁)) for hidden layers,
/// loss = mean over the B columns of log Σ exp(z) − z_label (log-softmax, shifted by the column
/// maximum for stability).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    sizes: Vec<usize>,
    dropout: f64,
}

impl Mlp {
    /// An MLP with layer widths `sizes` = [inputs, hidden…, classes] and no dropout
    /// (e.g. `[784, 200, 10]`, 000 §6.1).
    ///
    /// Errors: [`Error::InvalidHyperParameter`] if fewer than two sizes are given or a size is 0.
    pub fn new(sizes: &[usize]) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(Error::InvalidHyperParameter {
                name: "sizes",
                value: sizes.len() as f64,
                reason: "must be at least 2 (an input and an output size)",
            });
        }
        for &s in sizes {
            crate::error::check::count("sizes", s)?;
        }
        // d = Σℓ (n_ℓ + 1)·n_{ℓ+1} must fit a usize: a wrapped count would describe another
        // network (`[usize::MAX, 2]` once had 0 parameters).
        let d = sizes.windows(2).try_fold(0usize, |d, w| {
            w[0].checked_add(1)
                .and_then(|n| n.checked_mul(w[1]))
                .and_then(|p| d.checked_add(p))
        });
        if d.is_none() {
            return Err(Error::InvalidHyperParameter {
                name: "sizes",
                value: sizes.iter().map(|&n| n as f64).fold(0.0, f64::max),
                reason: "the number of parameters Σ (n_l + 1)·n_(l+1) overflows usize: use \
                         smaller layers",
            });
        }
        Ok(Self {
            sizes: sizes.to_vec(),
            dropout: 0.0,
        })
    }

    /// Sets the dropout probability p of every hidden layer (mnistfc: p = 0.5, or 0.15 with
    /// Entropy-SGD, 003 §3.3). Inverted dropout: kept units are scaled by 1/(1−p) during training,
    /// so evaluation uses the network unchanged.
    ///
    /// Errors: [`Error::InvalidHyperParameter`] unless 0 ≤ p < 1.
    pub fn with_dropout(mut self, p: f64) -> Result<Self> {
        if !(p.is_finite() && (0.0..1.0).contains(&p)) {
            return Err(Error::InvalidHyperParameter {
                name: "dropout",
                value: p,
                reason: "must be in [0, 1)",
            });
        }
        self.dropout = p;
        Ok(self)
    }

    /// Layer widths [inputs, hidden…, classes].
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Number of inputs (784 for MNIST).
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    /// Number of outputs = classes (10 for MNIST).
    pub fn outputs(&self) -> usize {
        *self.sizes.last().expect("at least two sizes")
    }

    /// Number of affine layers (sizes.len() − 1).
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Dropout probability of the hidden layers (0 = none).
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Total number of parameters d = Σℓ (sizes\[ℓ\] + 1)·sizes\[ℓ+1\].
    pub fn num_params(&self) -> usize {
        self.sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    /// Offset of W_ℓ in the flat vector (see the layout above).
    ///
    /// Errors: [`Error::InvalidHyperParameter`] (`layer`) unless `l <` [`Mlp::layers`].
    pub fn weight_offset(&self, l: usize) -> Result<usize> {
        self.check_layer_index(l)?;
        Ok(self.w_offset(l))
    }

    /// Offset of b_ℓ in the flat vector.
    ///
    /// Errors: [`Error::InvalidHyperParameter`] (`layer`) unless `l <` [`Mlp::layers`].
    pub fn bias_offset(&self, l: usize) -> Result<usize> {
        self.check_layer_index(l)?;
        Ok(self.w_offset(l) + self.sizes[l] * self.sizes[l + 1])
    }

    /// [`Mlp::weight_offset`] for an `l` the caller knows is a layer.
    pub(crate) fn w_offset(&self, l: usize) -> usize {
        self.sizes[..=l].windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    fn check_layer_index(&self, l: usize) -> Result<()> {
        if l >= self.layers() {
            return Err(Error::InvalidHyperParameter {
                name: "layer",
                value: l as f64,
                reason: "must be less than the number of layers (layers are numbered from 0)",
            });
        }
        Ok(())
    }

    fn check_layer<T: Real>(&self, x: &DVector<T>, l: usize) -> Result<()> {
        crate::error::check::dim(self.num_params(), x.len())?;
        self.check_layer_index(l)
    }

    /// W_ℓ viewed in place in `x` (`sizes[ℓ+1] × sizes[ℓ]`).
    ///
    /// Errors: [`Error::DimensionMismatch`] if `x.len() != num_params()`,
    /// [`Error::InvalidHyperParameter`] if `l` is not a layer.
    pub fn weights<'a, T: Real>(&self, x: &'a DVector<T>, l: usize) -> Result<DMatrixView<'a, T>> {
        self.check_layer(x, l)?;
        let (o, i) = (self.sizes[l + 1], self.sizes[l]);
        let off = self.w_offset(l);
        Ok(DMatrixView::from_slice(
            &x.as_slice()[off..off + o * i],
            o,
            i,
        ))
    }

    /// b_ℓ viewed in place in `x` (`sizes[ℓ+1]` entries).
    ///
    /// Errors: as [`Mlp::weights`].
    pub fn bias<'a, T: Real>(&self, x: &'a DVector<T>, l: usize) -> Result<DVectorView<'a, T>> {
        self.check_layer(x, l)?;
        let off = self.w_offset(l) + self.sizes[l] * self.sizes[l + 1];
        Ok(DVectorView::from_slice(
            &x.as_slice()[off..off + self.sizes[l + 1]],
            self.sizes[l + 1],
        ))
    }

    /// Seeded random initialization: He normal W ~ N(0, 2/fan_in) for layers followed by a ReLU,
    /// LeCun normal N(0, 1/fan_in) for the output layer (no ReLU after it), biases 0.
    ///
    /// Variates are drawn in `f64` and rounded, so the `f32` and `f64` initializations of one
    /// seed agree to `f32` precision.
    pub fn init<T: Real>(&self, rng: &mut Prng) -> DVector<T> {
        let mut x = DVector::<T>::zeros(self.num_params());
        for l in 0..self.layers() {
            let fan_in = self.sizes[l] as f64;
            let gain = if l + 1 < self.layers() { 2.0 } else { 1.0 };
            let sd = (gain / fan_in).sqrt();
            let off = self.w_offset(l);
            for v in &mut x.as_mut_slice()[off..off + self.sizes[l] * self.sizes[l + 1]] {
                *v = T::lit(sd * f64::standard_normal(rng));
            }
        }
        x
    }

    /// Mean cross-entropy and accuracy of parameters `x` on `data` (all examples, or `indices`),
    /// without dropout — for reporting (000 §6.2: accuracy on 1000 held-out test images).
    ///
    /// Allocates a workspace; [`MlpObjective::evaluate`](super::MlpObjective::evaluate) reuses
    /// its pool instead.
    ///
    /// Errors: [`Error::DimensionMismatch`] if `x`, the inputs or the classes do not match the
    /// network; [`Error::Data`] if `indices` is empty or has an index out of range.
    pub fn evaluate<T: Real>(
        &self,
        x: &DVector<T>,
        data: &Dataset<T>,
        indices: Option<&[usize]>,
    ) -> Result<Evaluation> {
        let mut ws = Workspace::new(self);
        pass::evaluate(self, &mut ws, x, data, indices, DEFAULT_CHUNK)
    }
}

/// Loss and accuracy of a network on a set of examples (no dropout).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean softmax cross-entropy (may be NaN/∞ if the parameters are).
    pub loss: f64,
    /// Fraction of examples whose largest logit is the label (ties: the first maximum).
    pub accuracy: f64,
    /// Number of examples evaluated.
    pub examples: usize,
}
