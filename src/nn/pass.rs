//! The MLP's passes over index sets: loss, accuracy and gradient in chunks ([`run`],
//! [`evaluate`]), and the two one-chunk passes that form the first layer's product in their own
//! way, for the batched mean gradients and importance sampling: [`deltas_pass`] (as the
//! parameters are drawn) and [`pass_from_first`] (supplied by the caller).
//!
//! Large index sets (`Batch::Full`, evaluation) are processed in chunks of at most
//! [`DEFAULT_CHUNK`](super::workspace::DEFAULT_CHUNK) examples, which bounds a workspace's memory
//! whatever the dataset size.

use super::chunk::{chunk_pass, Backward};
use super::linalg::{gemm, Mat};
use super::mlp::{Evaluation, Mlp};
use super::workspace::{Dropout, Workspace};
use crate::data::Dataset;
use crate::objective::Parallelism;
use crate::{Error, Real, Result};
use nalgebra::DVector;

/// Forward (and backward if `grad`) over the examples `idx` of `data`, in chunks.
/// Returns (loss sum, correct count), or `None` if an index is out of range.
/// With `grad`, writes ∇(loss sum / idx.len()) = ∇(mean loss) into it. `par` is the caller's
/// hint about the threads around this pass (see [`Parallelism`]), handed to every product.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &[T],
    data: &Dataset<T>,
    idx: &[usize],
    chunk: usize,
    mut dropout: Option<&mut Dropout<'_>>,
    mut grad: Option<&mut [T]>,
    par: Parallelism,
) -> Option<(f64, usize)> {
    let n = idx.len();
    let scale = T::lit(1.0 / n as f64);
    ws.ensure(mlp, chunk.min(n));
    let (mut loss, mut correct) = (0.0, 0);
    for (c, part) in idx.chunks(chunk).enumerate() {
        let b = part.len();
        if !ws.gather(data, part) {
            return None;
        }
        let bw = match grad.as_deref_mut() {
            Some(grad) => Backward::Gradient {
                grad,
                scale,
                first: c == 0,
            },
            None => Backward::None,
        };
        let (ls, cr) = chunk_pass(mlp, ws, x, b, dropout.as_deref_mut(), bw, false, par);
        loss += ls;
        correct += cr;
    }
    Some((loss, correct))
}

/// Forward over the minibatch `idx` (one chunk: `idx.len()` examples at once) with the
/// parameters `x` drawn block by block, and the deltas of `scale ·` its loss sum, left in `ws`
/// for the caller's weight gradients. Returns the loss sum, or `None` if an index is out of range.
///
/// `draw(offset, part)` writes `x[offset..offset + part.len()]`; it is called for consecutive
/// blocks of `block` elements (the last may be shorter). The first layer's product W₀·X is
/// accumulated over the columns of W₀ each block completes, while they are still in cache (W₀
/// is most of the parameters: 627 of 636 KB on 784→200→10).
#[allow(clippy::too_many_arguments)]
pub(super) fn deltas_pass<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &mut [T],
    draw: &dyn Fn(usize, &mut [T]),
    block: usize,
    data: &Dataset<T>,
    idx: &[usize],
    dropout: Option<&mut Dropout<'_>>,
    scale: T,
) -> Option<f64> {
    let b = idx.len();
    ws.ensure(mlp, b);
    if !ws.gather(data, idx) {
        return None;
    }
    let (n_in, n_out) = (mlp.sizes()[0], mlp.sizes()[1]);
    let (zero, one) = (T::zero(), T::one());
    let input = Mat::new(&ws.input[..n_in * b], n_in, b);
    let out = &mut ws.acts[0][..n_out * b];
    let mut done = 0; // columns of W₀ (inputs) multiplied so far
    let mut offset = 0;
    while offset < x.len() {
        let end = (offset + block).min(x.len());
        draw(offset, &mut x[offset..end]);
        offset = end;
        let cols = (end / n_out).min(n_in);
        if cols > done {
            // Z₀ (+)= W₀[:, done..cols] · X[done..cols, :]; W₀ starts the flat vector.
            let w = Mat::new(&x[done * n_out..cols * n_out], n_out, cols - done);
            let rows = Mat {
                data: &input.data[done..],
                rows: cols - done,
                ..input
            };
            let beta = if done == 0 { zero } else { one };
            gemm(one, w, rows, beta, out, Parallelism::Unknown);
            done = cols;
        }
    }
    let bw = Backward::Deltas { scale };
    Some(chunk_pass(mlp, ws, x, b, dropout, bw, true, Parallelism::Unknown).0)
}

/// A pass over the minibatch `idx` with the first layer's product supplied by the caller:
/// `first(z0)` writes Z₀ without its bias (`sizes[1] × B`), from inputs the caller holds (only
/// the labels are gathered here); then the rest of the forward pass and `bw` (the cost alone, or
/// the deltas). W₀'s entries of `x` are never read (no pass reads W₀ but the forward product, and
/// δ of the inputs is not formed). Returns the loss sum, or `None` if an index is out of range.
#[allow(clippy::too_many_arguments)]
pub(super) fn pass_from_first<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &[T],
    data: &Dataset<T>,
    idx: &[usize],
    dropout: Option<&mut Dropout<'_>>,
    bw: Backward<'_, T>,
    first: impl FnOnce(&mut [T]),
) -> Option<f64> {
    let b = idx.len();
    ws.ensure(mlp, b);
    // The inputs are not gathered: what `input` held is no longer known to match `gathered`.
    ws.gathered.clear();
    for (l, &i) in ws.labels.iter_mut().zip(idx) {
        if i >= data.len() {
            return None;
        }
        *l = data.label(i);
    }
    first(&mut ws.acts[0][..mlp.sizes()[1] * b]);
    Some(chunk_pass(mlp, ws, x, b, dropout, bw, true, Parallelism::Unknown).0)
}

/// Loss and accuracy without dropout (reporting), with every input checked.
pub(crate) fn evaluate<T: Real>(
    mlp: &Mlp,
    ws: &mut Workspace<T>,
    x: &DVector<T>,
    data: &Dataset<T>,
    indices: Option<&[usize]>,
    chunk: usize,
) -> Result<Evaluation> {
    check_data(mlp, data)?;
    crate::error::check::dim(mlp.num_params(), x.len())?;
    let all: Vec<usize>;
    let idx = match indices {
        Some(i) => i,
        None => {
            // Reporting only: one allocation per evaluation is fine.
            all = (0..data.len()).collect();
            &all
        }
    };
    if idx.is_empty() {
        return Err(Error::Data {
            path: "(in-memory dataset)".into(),
            problem: "no examples to evaluate".into(),
        });
    }
    // `data` may be another dataset than the one the workspace serves (a test set): nothing
    // gathered before is valid for it, and nothing gathered from it stays.
    ws.gathered.clear();
    let r = run(
        mlp,
        ws,
        x.as_slice(),
        data,
        idx,
        chunk,
        None,
        None,
        Parallelism::Unknown,
    );
    ws.gathered.clear();
    let (loss, correct) = r.ok_or_else(|| Error::Data {
        path: "(in-memory dataset)".into(),
        problem: format!("evaluation index out of range (n = {})", data.len()),
    })?;
    Ok(Evaluation {
        loss: loss / idx.len() as f64,
        accuracy: correct as f64 / idx.len() as f64,
        examples: idx.len(),
    })
}

/// The dataset's features and classes must match the network's input and output sizes.
pub(crate) fn check_data<T: Real>(mlp: &Mlp, data: &Dataset<T>) -> Result<()> {
    crate::error::check::dim(mlp.inputs(), data.features())?;
    crate::error::check::dim(mlp.outputs(), data.classes())
}
