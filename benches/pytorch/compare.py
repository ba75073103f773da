#!/usr/bin/env python3
"""Side-by-side timing of wide-valleys' updates against the same algorithms in PyTorch (issue 6, item 2).

Not part of `cargo test`. See README.md beside this file for how to install torch (CPU) and run it.

Every update is the one `benches/updates.rs` times (000 = García Trillos, Kaplan, Sanz-Alonso 2019;
004 = Chaudhari et al., Entropy-SGD, ICLR 2017): the MLP 784 -> 200 -> 10 with ReLU and softmax
cross-entropy averaged over the minibatch (000 §6.1), float32, synthetic data of MNIST's shape
(10,000 examples, 784 features in [0, 1], 10 classes), tau = 0.01 (a variance):

  sgd                           one SGD step, minibatch 20 (000 Table 2 "SGD").
  sgld_1000                     000 Alg. 1 + Alg. 3: 10^3 Langevin steps on f(y) + |y - x|^2/(2 tau),
                                eps_j = 1/(1000 + j), a fresh minibatch of 20 per step, noise N(0, eps_j),
                                chain warm-started across calls; x <- mu = sum eps_j y_j / sum eps_j.
  importance_sampling_1000      000 Alg. 1 + Alg. 4: 10^3 samples y_j = x + sqrt(tau) xi_j, weights
                                e^{-f(y_j)} on ONE minibatch of 20 (log-sum-exp), x <- sum w y / sum w.
  heat_regularization_rm_30x30  000 Alg. 2 + Alg. 5 (eq. 17): J = 30 Robbins-Monro iterations
                                x^{j+1} = x^j - a_j (x^j - x_k + tau/M sum_m grad f(z_m)), z_m = x^j +
                                sqrt(tau) xi_m, M = 30, each gradient on its own minibatch of 20,
                                a_j = 0.1 j^{-0.7}; x <- x^{J+1}.
  heat_regularization_rm_30x30_projected
                                the same, with the same law, sample m's layer-1 noise N_m entering
                                only as N_m A_m^T and drawn as L_m Z_m (A_m A_m^T = L_m L_m^T, Z_m
                                [20, 200] standard normal): 6,010 instead of 159,010 variates per m.
  importance_sampling_1000_projected
                                importance_sampling_1000 with the same law, the layer-1 noise drawn
                                the same way per sample, and the part of sum_j w_j N_j the weights
                                never see as one [200, 784] draw projected off the minibatch.
  entropy_sgd_l20_b128          004 Alg. 1, scaled (003 §3.2.3), eta = 1: L = 20 Langevin steps of
                                y <- y - eta' (grad f(y) + (y - x)/gamma) + sigma N(0, I) at minibatch
                                128, eta' = 0.1, gamma = 1 (a variance), sigma = sqrt(2 eta' 1e-8),
                                mu <- 0.25 mu + 0.75 y from mu = x; x <- mu.

The mean-seeking updates set x <- mu (the crate's 000 Alg. 1, i.e. x <- x - eta (x - mu) with eta = 1).
Each update is timed in several variants (manual backward vs autograd, how the Gaussian noise is
generated, how many samples are batched in one product); the table reports the best variant's
median and every variant is printed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# OMP_WAIT_POLICY must be set before libgomp starts, i.e. before importing torch. PASSIVE (idle OpenMP
# threads sleep) unless --omp-active or the variable is already set: on a shared 2-core machine the
# default spinning barriers of a 2-thread team cost 10-1000x in small products (see README.md).
if "--omp-active" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

# 784 -> 200 -> 10, flat parameter layout used here: W1 (200 x 784, row-major) | b1 | W2 (10 x 200) | b2.
N_IN, N_HID, N_OUT = 784, 200, 10
O_W1 = 0
O_B1 = O_W1 + N_HID * N_IN
O_W2 = O_B1 + N_HID
O_B2 = O_W2 + N_OUT * N_HID
DIM = O_B2 + N_OUT  # 159,010 (000 §6.1)
N_EXAMPLES = 10_000
TAU = 0.01

# 000 Table 2 (TensorFlow, seconds per update).
PAPER = {
    "sgd": 0.0032,
    "sgld_1000": 7.06,
    "importance_sampling_1000": 6.25,
    "importance_sampling_1000_projected": 6.25,
    "heat_regularization_rm_30x30": 3.31,
    "heat_regularization_rm_30x30_projected": 3.31,
}
RUST_GROUP = "update_784_200_10_f32"
RUST_MLP_GROUP = "mlp_784_200_10_f32_forward_backward"
UPDATES = [
    "sgd",
    "sgld_1000",
    "importance_sampling_1000",
    "importance_sampling_1000_projected",
    "heat_regularization_rm_30x30",
    "heat_regularization_rm_30x30_projected",
    "entropy_sgd_l20_b128",
]


def mlp_flops(b: int) -> int:
    """FLOPs of one forward+backward as benches/mlp.rs counts them."""
    return 2 * b * (N_IN * N_HID + N_HID * N_OUT) * 2 + 2 * b * N_HID * N_OUT


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------


def timeit(fn, repeats: int, warmup: int = 1, min_seconds: float = 0.0, budget: float = math.inf) -> list[float]:
    """Seconds per call of fn: `warmup` discarded runs, then `repeats` measurements. A
    measurement loops fn enough times to last about `min_seconds` (fast functions). If the
    warm-up shows that the repeats would take longer than `budget` seconds, fewer (>= 1) are made."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
    if warmup and math.isfinite(budget):
        per = (time.perf_counter() - t0) / warmup
        repeats = max(1, min(repeats, int(budget / max(per, min_seconds, 1e-9))))
    inner = 1
    if min_seconds > 0:
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        inner = max(1, int(min_seconds / one))
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - t0) / inner)
    return out


def fmt_s(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


# ----------------------------------------------------------------------------------------------
# Data, minibatches, noise
# ----------------------------------------------------------------------------------------------


class Data:
    """Synthetic MNIST-shaped data (as benches/updates.rs: |N(0,1)| clipped to 1, labels i mod 10)."""

    def __init__(self, n: int = N_EXAMPLES, seed: int = 1):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, N_IN, generator=g).abs_().clamp_(max=1.0)
        self.labels = torch.arange(n) % N_OUT
        self.onehot = F.one_hot(self.labels, N_OUT).float()
        self.n = n


class Batches:
    """Minibatches of `size` DISTINCT indices drawn uniformly (as MlpObjective::draw_batch).

    Drawn `block` at a time, vectorised: i.i.d. uniform rows, rows with a repeated index redrawn
    (rejection, so each row is a uniform subset); the cost is amortised over the block and included
    in every timed loop that consumes batches."""

    def __init__(self, n: int, size: int, block: int = 1000, seed: int = 3):
        self.n, self.size, self.block = n, size, block
        self.g = torch.Generator().manual_seed(seed)
        self.pos = block
        self.idx = None

    def _refill(self):
        idx = torch.randint(0, self.n, (self.block, self.size), generator=self.g)
        while True:
            s, _ = idx.sort(dim=1)
            bad = (s[:, 1:] == s[:, :-1]).any(dim=1).nonzero().flatten()
            if bad.numel() == 0:
                break
            idx[bad] = torch.randint(0, self.n, (bad.numel(), self.size), generator=self.g)
        self.idx = idx
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos == self.block:
            self._refill()
        r = self.idx[self.pos]
        self.pos += 1
        return r

    def next_many(self, m: int) -> torch.Tensor:
        """m batches at once, shape [m, size]."""
        if self.block - self.pos < m:
            self.block = max(self.block, m)
            self._refill()
        r = self.idx[self.pos : self.pos + m]
        self.pos += m
        return r


_POOL: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=3)
    return _POOL


class Noise:
    """Standard normal float32 vectors of length `unit`, produced `block` units at a time.

    modes (how the generation is scheduled; ATen releases the GIL so Python threads run in parallel):
      main         torch normal_ on the calling thread (ATen's normal_ is single-threaded);
      split        the block's two halves filled by two threads with their own generators;
      ahead        one background thread fills the next block while the caller uses this one;
      ahead-split  as ahead, the next block filled by two background threads.
    backend 'torch' (Box-Muller on mt19937) or 'numpy' (ziggurat on PCG64, float32)."""

    def __init__(self, unit: int, block: int, mode: str = "main", backend: str = "torch", seed: int = 5):
        self.unit, self.block, self.mode, self.backend = unit, block, mode, backend
        n = unit * block
        nbuf = 2 if mode.startswith("ahead") else 1
        self.bufs = [torch.empty(n) for _ in range(nbuf)]
        if backend == "torch":
            self.gens = [torch.Generator().manual_seed(seed + i) for i in range(2)]
        else:
            import numpy as np

            self.gens = [np.random.Generator(np.random.PCG64(seed + i)) for i in range(2)]
        self.pos = block
        self.cur = 0
        self.fut = None

    def _fill_one(self, t: torch.Tensor, g):
        if self.backend == "torch":
            t.normal_(generator=g)
        else:
            g.standard_normal(out=t.numpy(), dtype="float32")

    def _fill(self, buf: torch.Tensor, split: bool):
        if split:
            h = buf.numel() // 2
            f = pool().submit(self._fill_one, buf[h:], self.gens[1])
            self._fill_one(buf[:h], self.gens[0])
            f.result()
        else:
            self._fill_one(buf, self.gens[0])

    def _refill(self):
        m = self.mode
        if m == "main":
            self._fill(self.bufs[0], False)
        elif m == "split":
            self._fill(self.bufs[0], True)
        else:
            split = m == "ahead-split"
            if self.fut is None:
                self._fill(self.bufs[0], split)
                self.cur = 0
            else:
                self.fut.result()
                self.cur = 1 - self.cur
            # the other buffer was consumed before this call: refill it in the background
            self.fut = pool().submit(self._fill, self.bufs[1 - self.cur], split)
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos == self.block:
            self._refill()
        u = self.unit
        r = self.bufs[self.cur][self.pos * u : (self.pos + 1) * u]
        self.pos += 1
        return r

    def close(self):
        if self.fut is not None:
            self.fut.result()
            self.fut = None


# ----------------------------------------------------------------------------------------------
# The MLP: views of the flat vector, manual backward, autograd, batched losses
# ----------------------------------------------------------------------------------------------


def views(x: torch.Tensor):
    return (
        x[O_W1:O_B1].view(N_HID, N_IN),
        x[O_B1:O_W2],
        x[O_W2:O_B2].view(N_OUT, N_HID),
        x[O_B2:DIM],
    )


def init_params(seed: int = 2) -> torch.Tensor:
    """He normal for W1, LeCun normal for W2, zero biases (as Mlp::init)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(DIM)
    w1, _, w2, _ = views(x)
    w1.copy_(torch.randn(N_HID, N_IN, generator=g) * math.sqrt(2.0 / N_IN))
    w2.copy_(torch.randn(N_OUT, N_HID, generator=g) * math.sqrt(1.0 / N_HID))
    return x


class ManualGrad:
    """Mean softmax cross-entropy and its gradient, backward written by hand into preallocated
    buffers (no autograd graph): gather, 2 addmm forward, 3 mm backward, in-place elementwise."""

    def __init__(self, data: Data, b: int):
        self.data = data
        self.b = b
        self.a = torch.empty(b, N_IN)
        self.oh = torch.empty(b, N_OUT)
        self.h = torch.empty(b, N_HID)
        self.z = torch.empty(b, N_OUT)
        self.dh = torch.empty(b, N_HID)
        self.mask = torch.empty(b, N_HID, dtype=torch.bool)

    def __call__(self, x: torch.Tensor, idx: torch.Tensor, g: torch.Tensor) -> None:
        w1, b1, w2, b2 = views(x)
        gw1, gb1, gw2, gb2 = views(g)
        a, oh, h, z, dh = self.a, self.oh, self.h, self.z, self.dh
        torch.index_select(self.data.x, 0, idx, out=a)
        torch.index_select(self.data.onehot, 0, idx, out=oh)
        torch.addmm(b1, a, w1.t(), out=h)
        h.clamp_(min=0.0)
        torch.addmm(b2, h, w2.t(), out=z)
        # dZ = (softmax(Z) - onehot) / B, in place in z
        z.sub_(z.amax(dim=1, keepdim=True)).exp_()
        z.div_(z.sum(dim=1, keepdim=True)).sub_(oh).div_(self.b)
        torch.mm(z.t(), h, out=gw2)
        torch.sum(z, 0, out=gb2)
        torch.mm(z, w2, out=dh)
        torch.gt(h, 0.0, out=self.mask)
        dh.mul_(self.mask)
        torch.mm(dh.t(), a, out=gw1)
        torch.sum(dh, 0, out=gb1)


class AutogradGrad:
    """The same gradient by torch.autograd (F.linear, F.relu, F.cross_entropy)."""

    def __init__(self, data: Data, b: int):
        self.data = data

    def __call__(self, x: torch.Tensor, idx: torch.Tensor, g: torch.Tensor) -> None:
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            w1, b1, w2, b2 = views(xr)
            a = self.data.x.index_select(0, idx)
            z = F.linear(F.relu(F.linear(a, w1, b1)), w2, b2)
            loss = F.cross_entropy(z, self.data.labels.index_select(0, idx))
            (gr,) = torch.autograd.grad(loss, xr)
        g.copy_(gr)


GRADS = {"manual": ManualGrad, "autograd": AutogradGrad}


def loss_only(x: torch.Tensor, a: torch.Tensor, oh: torch.Tensor) -> float:
    w1, b1, w2, b2 = views(x)
    z = F.linear(F.linear(a, w1, b1).clamp_(min=0.0), w2, b2)
    return float((torch.logsumexp(z, 1) - (z * oh).sum(1)).mean())


def is_chunk_losses(x, base, at, oh, nz, s_, y2buf):
    """f(x + sqrt(tau) xi_s) on one minibatch for the S samples whose noise is nz (S*DIM values:
    sample s's W1 noise is rows s*200..(s+1)*200 of nz[:S*O_B1] seen as [S*200, 784], and the rest
    nz[S*O_B1:] as [S, 2210]). base = W1(x) A^T [200, B], at = A^T [784, B], oh one-hot [B, 10]."""
    sq = math.sqrt(TAU)
    b = at.shape[1]
    n1 = nz[: s_ * O_B1].view(s_ * N_HID, N_IN)
    n2 = nz[s_ * O_B1 :].view(s_, DIM - O_B1)
    h = torch.mm(n1, at).view(s_, N_HID, b)  # [S, 200, B]: ONE product for all samples
    y2 = torch.add(x[O_B1:], n2, alpha=sq, out=y2buf)  # b1, W2, b2 of every sample
    b1 = y2[:, :N_HID]
    w2 = y2[:, N_HID : N_HID + N_OUT * N_HID].view(s_, N_OUT, N_HID)
    b2 = y2[:, N_HID + N_OUT * N_HID :]
    h.mul_(sq).add_(base).add_(b1.unsqueeze(2)).clamp_(min=0.0)
    z = torch.baddbmm(b2.unsqueeze(2), w2, h)  # [S, 10, B]
    return (torch.logsumexp(z, 1) - (z * oh.t()).sum(1)).mean(1)  # [S]


def rm_gradient_sum(xj, a_all, oh, nz, m, gs, y2buf, projected=False):
    """sum over m of grad f(xj + sqrt(tau) xi_m) on minibatch m (rows m*B..(m+1)*B of a_all / oh),
    written into gs. Layout of nz as in is_chunk_losses (W1 noise of sample m: [200, 784]); with
    `projected`, sample m's W1 noise enters only as N_m A_m^T, drawn in law as L_m Z_m
    (A_m A_m^T = L_m L_m^T, Z_m [B, 200] standard normal; the crate's ProjectedMonteCarlo), and nz
    holds the M*B*200 values of Z first."""
    sq = math.sqrt(TAU)
    b = a_all.shape[0] // m
    n1_len = m * b * N_HID if projected else m * O_B1
    n2 = nz[n1_len:].view(m, DIM - O_B1)
    w1, _, _, _ = views(xj)
    y2 = torch.add(xj[O_B1:], n2, alpha=sq, out=y2buf)
    b1 = y2[:, :N_HID]
    w2 = y2[:, N_HID : N_HID + N_OUT * N_HID].view(m, N_OUT, N_HID)
    b2 = y2[:, N_HID + N_OUT * N_HID :]
    a3 = a_all.view(m, b, N_IN)
    base = torch.mm(a_all, w1.t()).view(m, b, N_HID)
    if projected:
        # layer 1: W1(xj) A_all^T in one product + sqrt(tau) L_m Z_m batched
        chol = torch.linalg.cholesky(torch.bmm(a3, a3.transpose(1, 2)))
        h = torch.baddbmm(base, chol, nz[:n1_len].view(m, b, N_HID), alpha=sq)
    else:
        # layer 1: W1(xj) A_all^T in one product + sqrt(tau) N_m A_m^T batched
        n1 = nz[:n1_len].view(m, N_HID, N_IN)
        h = torch.baddbmm(base, a3, n1.transpose(1, 2), alpha=sq)
    h.add_(b1.unsqueeze(1)).clamp_(min=0.0)  # [M, B, 200]
    z = torch.baddbmm(b2.unsqueeze(1), h, w2.transpose(1, 2))  # [M, B, 10]
    z.sub_(z.amax(dim=2, keepdim=True)).exp_()
    z.div_(z.sum(dim=2, keepdim=True)).sub_(oh.view(m, b, N_OUT)).div_(b)  # dZ (mean over B)
    gw1, gb1, gw2, gb2 = views(gs)
    z2 = z.view(m * b, N_OUT)
    h2 = h.view(m * b, N_HID)
    torch.mm(z2.t(), h2, out=gw2)  # sum_m dZ_m^T H_m as one product
    torch.sum(z2, 0, out=gb2)
    dh = torch.bmm(z, w2)  # [M, B, 200]
    dh.mul_(h > 0)
    dh2 = dh.view(m * b, N_HID)
    torch.mm(dh2.t(), a_all, out=gw1)  # sum_m dH_m^T A_m as one product
    torch.sum(dh2, 0, out=gb1)


# ----------------------------------------------------------------------------------------------
# The updates
# ----------------------------------------------------------------------------------------------


class Sgd:
    def __init__(self, data, x, grad="manual", lr=0.01):
        self.x, self.lr = x, lr
        self.g = torch.empty(DIM)
        self.grad = GRADS[grad](data, 20)
        self.batches = Batches(data.n, 20)

    def step(self):
        self.grad(self.x, self.batches.next(), self.g)
        self.x.add_(self.g, alpha=-self.lr)


class Sgld:
    """000 Alg. 3 with the crate's defaults (J = 1000, eps_j = 1/(1000 + j), warm start) and
    x <- the eps-weighted average (000 Alg. 1)."""

    def __init__(self, data, x, grad="manual", noise="main", backend="torch", steps=1000, block=25):
        self.x, self.steps = x, steps
        self.y = x.clone()  # the warm-started chain
        self.acc = torch.empty(DIM)
        self.g = torch.empty(DIM)
        self.grad = GRADS[grad](data, 20)
        self.batches = Batches(data.n, 20)
        self.noise = Noise(DIM, block, noise, backend)

    def step(self):
        x, y, g, acc = self.x, self.y, self.g, self.acc
        acc.zero_()
        eps_sum = 0.0
        for j in range(1, self.steps + 1):
            eps = 1.0 / (1000.0 + j)
            self.grad(y, self.batches.next(), g)
            # y <- y - eps/2 (grad f(y) + (y - x)/tau) + sqrt(eps) xi
            y.lerp_(x, eps / (2.0 * TAU))
            y.add_(g, alpha=-0.5 * eps)
            y.add_(self.noise.next(), alpha=math.sqrt(eps))
            acc.add_(y, alpha=eps)
            eps_sum += eps
        torch.div(acc, eps_sum, out=x)


class ImportanceSampling:
    """000 Alg. 4: `chunk` samples at a time. For a chunk, the first layer of all samples is ONE
    product: W1 of sample s is W1(x) + sqrt(tau) N_s, so H_s = W1(x) A^T + sqrt(tau) N_s A^T with the
    N_s stacked as a [chunk*200, 784] matrix; the second layer is a bmm. The weighted mean is
    accumulated as x + sqrt(tau) sum w xi / sum w with a running maximum (log-sum-exp)."""

    def __init__(self, data, x, samples=1000, chunk=100, noise="main", backend="torch"):
        assert samples % chunk == 0
        self.data, self.x, self.samples, self.chunk = data, x, samples, chunk
        self.batches = Batches(data.n, 20)
        self.noise = Noise(chunk * DIM, 1, noise, backend)
        self.sxi = torch.empty(DIM)
        self.y2 = torch.empty(chunk, DIM - O_B1)

    def step(self):
        x, s_ = self.x, self.chunk
        sq = math.sqrt(TAU)
        idx = self.batches.next()
        a = self.data.x.index_select(0, idx)  # [B, 784]
        oh = self.data.onehot.index_select(0, idx)  # [B, 10]
        w1, _, _, _ = views(x)
        base = torch.mm(w1, a.t())  # [200, B]
        at = a.t().contiguous()
        m = -math.inf
        tot = 0.0
        self.sxi.zero_()
        for _ in range(self.samples // s_):
            nz = self.noise.next()
            logw = is_chunk_losses(x, base, at, oh, nz, s_, self.y2).neg_()
            cm = float(logw.max())
            if cm > m:
                if m > -math.inf:
                    r = math.exp(m - cm)
                    self.sxi.mul_(r)
                    tot *= r
                m = cm
            w = (logw - m).exp_()
            tot += float(w.sum())
            # sum_s w_s xi_s, as [1 x S] x [S x .] products over the two parts of the noise
            self.sxi[:O_B1].view(1, O_B1).addmm_(w.view(1, s_), nz[: s_ * O_B1].view(s_, O_B1))
            self.sxi[O_B1:].view(1, DIM - O_B1).addmm_(w.view(1, s_), nz[s_ * O_B1 :].view(s_, DIM - O_B1))
        x.add_(self.sxi, alpha=sq / tot)


class ImportanceSamplingProjected:
    """The same law as ImportanceSampling, with the layer-1 noise drawn through its product with the
    minibatch (the crate's ImportanceSampling::projected): with A A^T = L L^T, sample s's N_s A^T is
    drawn as (L Z_s)^T, Z_s [B, 200] standard normal; the part of sum_s w_s N_s that the weights
    never see is one [200, 784] draw G times sqrt(sum w^2), projected off A's rows:
    sum_s w_s N_s / sum w = Zbar^T L^-T A ... = (Zbar^T - q G A^T L^-T) L^-1 A + q G."""

    def __init__(self, data, x, samples=1000, chunk=100, noise="main", backend="torch"):
        assert samples % chunk == 0
        self.data, self.x, self.samples, self.chunk = data, x, samples, chunk
        self.b = 20
        self.batches = Batches(data.n, self.b)
        self.unit = self.b * N_HID + DIM - O_B1
        self.noise = Noise(chunk * self.unit, 1, noise, backend)
        self.gen = torch.Generator().manual_seed(11)
        self.g = torch.empty(N_HID, N_IN)
        self.sz = torch.empty(self.b * N_HID)
        self.st = torch.empty(DIM - O_B1)
        self.y2 = torch.empty(chunk, DIM - O_B1)

    def step(self):
        x, s_, b = self.x, self.chunk, self.b
        sq = math.sqrt(TAU)
        idx = self.batches.next()
        a = self.data.x.index_select(0, idx)  # [B, 784]
        oh = self.data.onehot.index_select(0, idx)  # [B, 10]
        w1, _, _, _ = views(x)
        base = torch.mm(a, w1.t())  # [B, 200]
        chol = torch.linalg.cholesky(torch.mm(a, a.t()))  # [B, B]
        lb = chol.expand(s_, b, b)
        m, tot, tot2 = -math.inf, 0.0, 0.0
        self.sz.zero_()
        self.st.zero_()
        for _ in range(self.samples // s_):
            nz = self.noise.next()
            z = nz[: s_ * b * N_HID].view(s_, b, N_HID)
            n2 = nz[s_ * b * N_HID :].view(s_, DIM - O_B1)
            h = torch.baddbmm(base.expand(s_, b, N_HID), lb, z, alpha=sq)  # [S, B, 200]
            y2 = torch.add(x[O_B1:], n2, alpha=sq, out=self.y2)
            b1 = y2[:, :N_HID]
            w2 = y2[:, N_HID : N_HID + N_OUT * N_HID].view(s_, N_OUT, N_HID)
            b2 = y2[:, N_HID + N_OUT * N_HID :]
            h.add_(b1.unsqueeze(1)).clamp_(min=0.0)
            zl = torch.baddbmm(b2.unsqueeze(1), h, w2.transpose(1, 2))  # [S, B, 10]
            logw = (torch.logsumexp(zl, 2) - (zl * oh).sum(2)).mean(1).neg_()
            cm = float(logw.max())
            if cm > m:
                if m > -math.inf:
                    r = math.exp(m - cm)
                    self.sz.mul_(r)
                    self.st.mul_(r)
                    tot *= r
                    tot2 *= r * r
                m = cm
            w = (logw - m).exp_()
            tot += float(w.sum())
            tot2 += float((w * w).sum())
            self.sz.view(1, -1).addmm_(w.view(1, s_), z.reshape(s_, b * N_HID))
            self.st.view(1, -1).addmm_(w.view(1, s_), n2)
        q = math.sqrt(tot2) / tot
        k = torch.linalg.solve_triangular(chol, a, upper=False)  # L^-1 A [B, 784]
        self.g.normal_(generator=self.gen)
        c = torch.linalg.solve_triangular(chol, torch.mm(a, self.g.t()), upper=False)  # [B, 200]
        mt = self.sz.view(b, N_HID).div(tot).sub_(c, alpha=q)  # (Zbar - q G A^T L^-T)^T
        d0 = torch.addmm(self.g, mt.t(), k, alpha=1.0, beta=q)  # [200, 784]
        x[:O_B1].view(N_HID, N_IN).add_(d0, alpha=sq)
        x[O_B1:].add_(self.st, alpha=sq / tot)


class ImportanceSamplingLoop:
    """000 Alg. 4 one sample at a time (y_j materialised, one forward per sample)."""

    def __init__(self, data, x, samples=1000, noise="main", backend="torch"):
        self.data, self.x, self.samples = data, x, samples
        self.batches = Batches(data.n, 20)
        self.noise = Noise(DIM, 50, noise, backend)
        self.y = torch.empty(DIM)
        self.sxi = torch.empty(DIM)

    def step(self):
        x, y = self.x, self.y
        sq = math.sqrt(TAU)
        idx = self.batches.next()
        a = self.data.x.index_select(0, idx)
        oh = self.data.onehot.index_select(0, idx)
        m, tot = -math.inf, 0.0
        self.sxi.zero_()
        for _ in range(self.samples):
            xi = self.noise.next()
            torch.add(x, xi, alpha=sq, out=y)
            lw = -loss_only(y, a, oh)
            if lw > m:
                if m > -math.inf:
                    r = math.exp(m - lw)
                    self.sxi.mul_(r)
                    tot *= r
                m = lw
            w = math.exp(lw - m)
            tot += w
            self.sxi.add_(xi, alpha=w)
        x.add_(self.sxi, alpha=sq / tot)


class RobbinsMonro:
    """000 Alg. 5 (eq. 17), M = J = 30, a_j = 0.1 j^-0.7. The M perturbed gradients of one
    iteration are computed together: layer 1 as W1(x^j) A_all^T (one mm) + sqrt(tau) bmm(A_m, N_m^T),
    layer 2 and its backward as bmm, and the M-sum of the weight gradients as ONE mm over the
    concatenated 600 examples (sum_m dH_m^T A_m = dH_all^T A_all)."""

    def __init__(self, data, x, noise="main", backend="torch", m=30, iters=30, projected=False):
        self.data, self.x, self.m, self.iters = data, x, m, iters
        self.projected = projected
        self.batches = Batches(data.n, 20)
        unit = m * (20 * N_HID + DIM - O_B1) if projected else m * DIM
        self.noise = Noise(unit, 1, noise, backend)
        self.xj = torch.empty(DIM)
        self.gs = torch.empty(DIM)
        self.y2 = torch.empty(m, DIM - O_B1)

    def step(self):
        x, xj, gs, m = self.x, self.xj, self.gs, self.m
        xj.copy_(x)
        for j in range(1, self.iters + 1):
            a_j = 0.1 * j**-0.7
            idx = self.batches.next_many(m).reshape(-1)  # [M*B]
            a_all = self.data.x.index_select(0, idx)  # [M*B, 784]
            oh = self.data.onehot.index_select(0, idx)
            rm_gradient_sum(xj, a_all, oh, self.noise.next(), m, gs, self.y2, self.projected)
            # x^{j+1} = x^j - a_j (x^j - x_k + tau * gsum / M)
            gs.mul_(TAU / m).add_(xj).sub_(x)
            xj.add_(gs, alpha=-a_j)
        x.copy_(xj)


class RobbinsMonroLoop:
    """000 Alg. 5 one gradient at a time (each perturbed point materialised)."""

    def __init__(self, data, x, grad="manual", noise="main", backend="torch", m=30, iters=30):
        self.x, self.m, self.iters = x, m, iters
        self.grad = GRADS[grad](data, 20)
        self.batches = Batches(data.n, 20)
        self.noise = Noise(DIM, m, noise, backend)
        self.xj, self.z, self.g, self.gs = (torch.empty(DIM) for _ in range(4))

    def step(self):
        x, xj, z, g, gs = self.x, self.xj, self.z, self.g, self.gs
        sq = math.sqrt(TAU)
        xj.copy_(x)
        for j in range(1, self.iters + 1):
            a_j = 0.1 * j**-0.7
            gs.zero_()
            for _ in range(self.m):
                torch.add(xj, self.noise.next(), alpha=sq, out=z)
                self.grad(z, self.batches.next(), g)
                gs.add_(g)
            gs.mul_(TAU / self.m).add_(xj).sub_(x)
            xj.add_(gs, alpha=-a_j)
        x.copy_(xj)


class EntropySgd:
    """004 Alg. 1 as the crate's EntropySgd(scope 1, L 20, lr 1).scaled(true): displacement d = y - x,
    d <- d - eta'(grad f(x + d) + d/gamma) + sigma xi, mu <- (1 - a) mu + a d (a = 0.75); x <- x + mu."""

    def __init__(self, data, x, grad="manual", noise="main", backend="torch", steps=20, block=20):
        self.x, self.steps = x, steps
        self.grad = GRADS[grad](data, 128)
        self.batches = Batches(data.n, 128)
        self.noise = Noise(DIM, block, noise, backend)
        self.d, self.mu, self.y, self.g = (torch.empty(DIM) for _ in range(4))
        self.eta, self.gamma = 0.1, 1.0
        self.sigma = math.sqrt(2 * 0.1 * 1e-8)
        self.a = 0.75

    def step(self):
        x, d, mu, y, g = self.x, self.d, self.mu, self.y, self.g
        d.zero_()
        mu.zero_()
        for _ in range(self.steps):
            torch.add(x, d, out=y)
            self.grad(y, self.batches.next(), g)
            d.mul_(1.0 - self.eta / self.gamma).add_(g, alpha=-self.eta)
            d.add_(self.noise.next(), alpha=self.sigma)
            mu.lerp_(d, self.a)
        x.add_(mu)


def sample_noise(nz: torch.Tensor, s: int, count: int) -> torch.Tensor:
    """Sample s's noise vector (standard layout) inside a batched noise block of `count` samples."""
    return torch.cat(
        [nz[s * O_B1 : (s + 1) * O_B1], nz[count * O_B1 + s * (DIM - O_B1) : count * O_B1 + (s + 1) * (DIM - O_B1)]]
    )


def self_check(data: Data, x0: torch.Tensor, log) -> bool:
    """The fast paths against plain references (autograd, one sample at a time), in float64."""
    torch.set_default_dtype(torch.float64)
    ok = True
    d64 = Data()
    d64.x, d64.onehot = d64.x.double(), d64.onehot.double()
    x = x0.double()

    def report(what, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= good
        log(f"  check {what:55s} max rel. error {err:.2e} (tol {tol:.0e}) {'ok' if good else 'FAIL'}")

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max())

    for b in (20, 128):
        idx = Batches(d64.n, b).next()
        g1, g2 = torch.empty(DIM), torch.empty(DIM)
        ManualGrad(d64, b)(x, idx, g1)
        AutogradGrad(d64, b)(x, idx, g2)
        report(f"manual gradient = autograd gradient, B={b}", rel(g1, g2), 1e-10)
    # importance sampling: batched losses of S samples = one forward per sample
    s_ = 7
    nz = torch.randn(s_ * DIM)
    idx = Batches(d64.n, 20).next()
    a, oh = d64.x.index_select(0, idx), d64.onehot.index_select(0, idx)
    w1, _, _, _ = views(x)
    f = is_chunk_losses(x, torch.mm(w1, a.t()), a.t().contiguous(), oh, nz, s_, torch.empty(s_, DIM - O_B1))
    ref = torch.tensor([loss_only(x + math.sqrt(TAU) * sample_noise(nz, s, s_), a, oh) for s in range(s_)])
    report("batched IS losses = per-sample losses (S=7)", rel(f, ref), 1e-10)
    # Robbins-Monro: batched gradient sum = sum of per-sample manual gradients
    m = 5
    idx = Batches(d64.n, 20).next_many(m)
    a_all = d64.x.index_select(0, idx.reshape(-1))
    oh_all = d64.onehot.index_select(0, idx.reshape(-1))
    nz = torch.randn(m * DIM)
    gs = torch.empty(DIM)
    rm_gradient_sum(x, a_all, oh_all, nz, m, gs, torch.empty(m, DIM - O_B1))
    ref = torch.zeros(DIM)
    g = torch.empty(DIM)
    for k in range(m):
        AutogradGrad(d64, 20)(x + math.sqrt(TAU) * sample_noise(nz, k, m), idx[k], g)
        ref += g
    report("batched RM gradient sum = sum of autograd gradients (M=5)", rel(gs, ref), 1e-10)
    # the full IS update: batched chunks = per-sample loop on the same noise stream
    xa, xb = x.clone(), x.clone()
    isb = ImportanceSampling(d64, xa, samples=20, chunk=1)
    isl = ImportanceSamplingLoop(d64, xb, samples=20)
    isl.noise = Noise(DIM, 20, "main")
    isb.noise = Noise(DIM, 20, "main")
    isb.step()
    isl.step()
    report("IS update, batched path (S=1) = per-sample loop", rel(xa - x, xb - x), 1e-8)
    # the full IS update with chunks of 5 = softmax-weighted mean computed directly
    xa = x.clone()
    isb = ImportanceSampling(d64, xa, samples=10, chunk=5)
    isb.noise = Noise(5 * DIM, 1, "main", seed=11)
    isb.batches = Batches(d64.n, 20, seed=12)
    isb.step()
    src, idx = Noise(5 * DIM, 1, "main", seed=11), Batches(d64.n, 20, seed=12).next()
    a, oh = d64.x.index_select(0, idx), d64.onehot.index_select(0, idx)
    xis = [sample_noise(blk, s, 5) for blk in (src.next().clone(), src.next().clone()) for s in range(5)]
    f = torch.tensor([loss_only(x + math.sqrt(TAU) * xi, a, oh) for xi in xis])
    w = torch.softmax(-f, 0)
    ref = x + math.sqrt(TAU) * sum(wi * xi for wi, xi in zip(w, xis))
    report("IS update, chunks of 5 = direct weighted mean", rel(xa - x, ref - x), 1e-8)
    # noise: mean 0, variance 1, halves from different generators (split) not equal
    for mode in ("main", "split", "ahead", "ahead-split"):
        nzs = Noise(1_000_000, 2, mode)
        v1, v2 = nzs.next().clone(), nzs.next().clone()
        v3 = nzs.next()
        nzs.close()
        dev = max(abs(float(v3.mean())), abs(float(v3.var()) - 1.0))
        distinct = not torch.equal(v1, v2) and not torch.equal(v1[:500_000], v1[500_000:])
        report(f"noise {mode}: mean 0, var 1, fresh values", dev if distinct else 1.0, 1e-2)
    torch.set_default_dtype(torch.float32)
    return ok


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------


def variants(quick: bool, threads: int):
    """(update, variant name, constructor(data, x) -> object with .step(), timing kind, intra-op
    threads). `intra` 1 with noise on another thread is the other way of using two cores: under
    load, OpenMP's 2-thread barriers in small products can cost more than they gain."""
    v = []
    t = threads
    intras = [t] if t == 1 else [t, 1]

    def add(upd, name, make, kind, intra):
        v.append((upd, f"{name}, intra-op {intra}", make, kind, intra))

    for gk in ("manual", "autograd"):
        for it in intras:
            add("sgd", gk, lambda d, x, gk=gk: Sgd(d, x, gk), "fast", it)
    sgld_cfg = [("main", t), ("split", t), ("ahead", t), ("main", 1), ("split", 1), ("ahead", 1), ("ahead-split", 1)]
    for nm, it in sgld_cfg[: 3 if quick else len(sgld_cfg)]:
        add("sgld_1000", f"manual, noise {nm}", lambda d, x, nm=nm: Sgld(d, x, "manual", nm), "slow", it)
    if not quick:
        add("sgld_1000", "autograd, noise ahead", lambda d, x: Sgld(d, x, "autograd", "ahead"), "slow", 1)
    is_cfg = [(100, "main", t), (100, "split", t), (100, "ahead-split", t), (100, "split", 1), (100, "ahead", 1)]
    if not quick:
        is_cfg += [(25, "main", t), (25, "split", t), (25, "split", 1), (250, "split", t)]
    for ch, nm, it in is_cfg:
        add(
            "importance_sampling_1000",
            f"batched {ch} samples, noise {nm}",
            lambda d, x, ch=ch, nm=nm: ImportanceSampling(d, x, 1000, ch, nm),
            "slow",
            it,
        )
    for ch, nm, it in [(100, "main", t), (100, "split", t), (250, "main", t), (1000, "main", t), (100, "main", 1)]:
        add(
            "importance_sampling_1000_projected",
            f"batched {ch} samples, projected layer-1 noise, noise {nm}",
            lambda d, x, ch=ch, nm=nm: ImportanceSamplingProjected(d, x, 1000, ch, nm),
            "slow",
            it,
        )
    if not quick:
        add(
            "importance_sampling_1000",
            "per-sample loop, noise split",
            lambda d, x: ImportanceSamplingLoop(d, x, 1000, "split"),
            "slow",
            1,
        )
    for nm, it in [("main", t), ("split", t), ("ahead-split", t), ("split", 1), ("ahead", 1)]:
        add(
            "heat_regularization_rm_30x30",
            f"batched M=30, noise {nm}",
            lambda d, x, nm=nm: RobbinsMonro(d, x, nm),
            "slow",
            it,
        )
    for nm, it in [("main", t), ("split", t), ("main", 1)]:
        add(
            "heat_regularization_rm_30x30_projected",
            f"batched M=30, projected layer-1 noise, noise {nm}",
            lambda d, x, nm=nm: RobbinsMonro(d, x, nm, projected=True),
            "slow",
            it,
        )
    if not quick:
        add(
            "heat_regularization_rm_30x30",
            "per-gradient loop, manual, noise split",
            lambda d, x: RobbinsMonroLoop(d, x, "manual", "split"),
            "slow",
            1,
        )
    es_cfg = [("manual", "main", t), ("manual", "split", t), ("manual", "split", 1), ("manual", "ahead", 1)]
    es_cfg += [("manual", "ahead-split", 1)]
    if not quick:
        es_cfg += [("autograd", "main", t), ("autograd", "split", t), ("autograd", "ahead", 1)]
    for gk, nm, it in es_cfg:
        add("entropy_sgd_l20_b128", f"{gk}, noise {nm}", lambda d, x, gk=gk, nm=nm: EntropySgd(d, x, gk, nm), "mid", it)
    return v


def run_updates(args, data, x0, log):
    results = {}  # update -> list of (variant, median, times)
    for upd, name, make, kind, intra in variants(args.quick, args.threads):
        if args.only and upd not in args.only:
            continue
        torch.set_num_threads(intra)
        x = x0.clone()
        obj = make(data, x)
        try:
            if kind == "fast":
                ts = timeit(obj.step, repeats=args.repeats_fast, warmup=20, min_seconds=0.2, budget=args.budget)
            elif kind == "mid":
                ts = timeit(obj.step, repeats=args.repeats_fast, warmup=2, min_seconds=0.3, budget=args.budget)
            else:
                ts = timeit(obj.step, repeats=args.repeats_slow, warmup=1, budget=args.budget)
        finally:
            noise = getattr(obj, "noise", None)
            if noise is not None:
                noise.close()
            torch.set_num_threads(args.threads)
        if not bool(torch.isfinite(x).all()):
            log(f"  WARNING: {upd} / {name}: non-finite parameters after the run")
        med = statistics.median(ts)
        log(f"  {upd:30s} {name:52s} median {fmt_s(med):>10s}  (min {fmt_s(min(ts))}, n={len(ts)})")
        results.setdefault(upd, []).append((name, med, ts))
    return results


def run_mlp(args, data, x0, log):
    out = {}
    for b in (20, 128, 1000):
        for it in sorted({args.threads, 1}, reverse=True):
            torch.set_num_threads(it)
            for gk in ("manual", "autograd"):
                gr = GRADS[gk](data, b)
                idx = (torch.arange(b) * 7) % data.n  # fixed batch, as benches/mlp.rs
                g = torch.empty(DIM)
                ts = timeit(lambda: gr(x0, idx, g), repeats=args.repeats_fast, warmup=5, min_seconds=0.2)
                med = statistics.median(ts)
                log(
                    f"  mlp B={b:<5d} {gk:9s} intra-op {it}  median {fmt_s(med):>10s}  {mlp_flops(b) / med / 1e9:6.1f} GFLOP/s"
                )
                out.setdefault(b, []).append((f"{gk}, intra-op {it}", med, ts))
        torch.set_num_threads(args.threads)
    return out


def run_gemm(args, log):
    """Raw [B x 784] x [784 x 200] products: MKL (torch.mm) and oneDNN (mkldnn_linear)."""
    out = {}
    for it in sorted({args.threads, 1}, reverse=True):
        torch.set_num_threads(it)
        for b in (20, 128, 1000):
            a = torch.rand(b, N_IN)
            w = torch.randn(N_HID, N_IN)
            c = torch.empty(b, N_HID)
            flops = 2 * b * N_IN * N_HID
            res = {}
            ts = timeit(lambda: torch.mm(a, w.t(), out=c), repeats=args.repeats_fast, warmup=10, min_seconds=0.2)
            res["torch.mm (MKL)"] = statistics.median(ts)
            wkn = w.t().contiguous()
            ts = timeit(lambda: torch.mm(a, wkn, out=c), repeats=args.repeats_fast, warmup=10, min_seconds=0.2)
            res["torch.mm (MKL, W stored K x N)"] = statistics.median(ts)
            if torch.backends.mkldnn.is_available():
                am, wm, bm = a.to_mkldnn(), w.to_mkldnn(), torch.zeros(N_HID).to_mkldnn()
                ts = timeit(
                    lambda: torch._C._nn.mkldnn_linear(am, wm, bm),
                    repeats=args.repeats_fast,
                    warmup=10,
                    min_seconds=0.2,
                )
                res["oneDNN (mkldnn_linear)"] = statistics.median(ts)
            for k, s in res.items():
                log(f"  gemm B={b:<5d} threads {it} {k:32s} {fmt_s(s):>10s}  {flops / s / 1e9:6.1f} GFLOP/s")
            out[f"B={b}, threads {it}"] = {k: flops / s / 1e9 for k, s in res.items()}
    torch.set_num_threads(args.threads)
    return out


def run_randn(args, log):
    """ns per standard normal float32 variate, 1 and 2 threads (2 threads: two generators filling
    the two halves from two Python threads, as Noise 'split')."""
    n = 4_000_000
    out = {}
    backends = ["torch"]
    try:
        import numpy  # noqa: F401

        backends.append("numpy")
    except ImportError:
        pass
    for be in backends:
        for mode, label in (("main", "1 thread"), ("split", "2 threads")):
            nz = Noise(n, 1, mode, be)
            ts = timeit(nz._refill, repeats=args.repeats_fast, warmup=2)
            s = statistics.median(ts) / n * 1e9
            log(f"  randn {be:6s} {label:10s} {s:6.2f} ns/variate")
            out[f"{be}, {label}"] = s
    return out


def machine_info() -> dict:
    info = {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    info["cpu"] = f"{model}, {os.cpu_count()} logical CPUs"
    info["flags"] = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx2", "fma", "avx512f", "avx512vl", "avx512_bf16"))
    info["torch"] = f"{torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    info["threads"] = f"{torch.get_num_threads()} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')})"
    try:
        with open("/proc/loadavg") as f:
            info["load (uptime)"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    info["python"] = platform.python_version()
    return info


def rust_median_ns(crit: Path, group: str, bench: str):
    p = crit / group / bench / "new" / "estimates.json"
    try:
        return json.loads(p.read_text())["median"]["point_estimate"], p
    except (OSError, KeyError, ValueError):
        return None, p


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--rust", action="store_true", help="run `cargo bench --bench updates` and `--bench mlp` first")
    g.add_argument("--no-rust", action="store_true", help="only read criterion's existing results (default)")
    ap.add_argument(
        "--criterion-dir",
        type=Path,
        default=REPO / "target" / "criterion",
        help="where criterion's results are (default <repo>/target/criterion)",
    )
    ap.add_argument("--repeats-fast", type=int, default=7, help="repeats for fast measurements (default 7)")
    ap.add_argument("--repeats-slow", type=int, default=3, help="repeats for the slow updates (default 3)")
    ap.add_argument("--quick", action="store_true", help="fewer variants")
    ap.add_argument("--only", nargs="*", choices=UPDATES, help="time only these updates")
    ap.add_argument("--skip", nargs="*", default=[], choices=["updates", "mlp", "gemm", "randn"], help="skip sections")
    ap.add_argument("--json", type=Path, help="also write all results to this JSON file")
    ap.add_argument(
        "--omp-active",
        action="store_true",
        help="leave OMP_WAIT_POLICY to libgomp's default (spinning); otherwise PASSIVE unless already set",
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds per variant: fewer repeats (at least 1) when the warm-up shows they would exceed it (default 60)",
    )
    ap.add_argument("--table-from", type=Path, help="print the table from a --json file of an earlier run (no timing)")
    ap.add_argument(
        "--check", action="store_true", help="only check the fast paths against plain references, then exit"
    )
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)

    def log(s):
        print(s, flush=True)

    if args.rust:
        for bench in ("updates", "mlp"):
            log(f"$ cargo bench --bench {bench}   (in {REPO})")
            subprocess.run(["cargo", "bench", "--bench", bench], cwd=REPO, check=True)

    if args.table_from:
        print_table(json.loads(args.table_from.read_text()), args.criterion_dir, log)
        return

    if args.check:
        ok = self_check(Data(), init_params(), log)
        log("all checks passed" if ok else "SOME CHECKS FAILED")
        sys.exit(0 if ok else 1)

    info = machine_info()
    log("## Machine\n")
    for k, v in info.items():
        log(f"- {k}: {v}")
    log("")

    data = Data()
    x0 = init_params()
    res = {"machine": info}
    if "randn" not in args.skip:
        log("## Gaussian sampling (torch.randn / normal_)\n")
        res["randn_ns_per_variate"] = run_randn(args, log)
        log("")
    if "gemm" not in args.skip:
        log("## Raw products [B x 784] x [784 x 200]\n")
        res["gemm_gflops"] = run_gemm(args, log)
        log("")
    mlp = {}
    if "mlp" not in args.skip:
        log("## MLP forward+backward\n")
        mlp = run_mlp(args, data, x0, log)
        log("")
    upd = {}
    if "updates" not in args.skip:
        log("## Updates, every variant\n")
        upd = run_updates(args, data, x0, log)
        log("")

    res["updates"] = {u: [(n, m, ts) for n, m, ts in rows] for u, rows in upd.items()}
    res["mlp"] = {str(b): [(n, m, ts) for n, m, ts in rows] for b, rows in mlp.items()}
    res["load_at_end"] = machine_info().get("load (uptime)", "?")
    res["table"] = print_table(res, args.criterion_dir, log)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    if _POOL is not None:
        _POOL.shutdown()


def print_table(res: dict, crit: Path, log) -> list:
    """The Markdown table from a results dict (this run's, or a --json file via --table-from)."""
    info = res["machine"]
    upd = res.get("updates", {})
    mlp = {int(b): rows for b, rows in res.get("mlp", {}).items()}
    log(f"## Table (Rust: criterion medians from {crit})\n")
    log(
        f"PyTorch {info['torch']}, threads {info['threads']}, {info['date']}, "
        f"load {info.get('load (uptime)', '?')} at the start, {res.get('load_at_end', '?')} at the end\n"
    )
    log("| update | PyTorch (best variant, median) | Rust (criterion median) | Rust / PyTorch | paper 000 Table 2 |")
    log("|---|---|---|---|---|")
    table = []
    for u in UPDATES:
        if u not in upd:
            continue
        name, med, _ = min(upd[u], key=lambda r: r[1])
        rns, _ = rust_median_ns(crit, RUST_GROUP, u)
        rust = rns / 1e9 if rns is not None else None
        paper = PAPER.get(u)
        log(
            f"| {u} | {fmt_s(med)} ({name}) | {fmt_s(rust) if rust else 'n/a'} | "
            f"{f'{rust / med:.2f}' if rust else 'n/a'} | {f'{paper} s' if paper else '–'} |"
        )
        table.append({"update": u, "pytorch_s": med, "variant": name, "rust_s": rust, "paper_s": paper})
    for b, rows in mlp.items():
        name, med, _ = min(rows, key=lambda r: r[1])
        rns, _ = rust_median_ns(crit, RUST_MLP_GROUP, str(b))
        rust = rns / 1e9 if rns is not None else None
        gf = lambda s: mlp_flops(b) / s / 1e9  # noqa: E731
        log(
            f"| mlp fwd+bwd B={b} | {fmt_s(med)} ({name}, {gf(med):.0f} GFLOP/s) | "
            f"{f'{fmt_s(rust)} ({gf(rust):.0f} GFLOP/s)' if rust else 'n/a'} | {f'{rust / med:.2f}' if rust else 'n/a'} | – |"
        )
        table.append({"update": f"mlp_b{b}", "pytorch_s": med, "variant": name, "rust_s": rust})
    return table


if __name__ == "__main__":
    main()
