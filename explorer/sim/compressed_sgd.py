"""A small, deterministic distributed optimisation with compressed gradients (lab 06 part 3).

W workers each hold a shard of a seeded logistic-regression problem (the code generates it) and
run synchronous full-batch gradient descent; every step each worker compresses what it sends,
the server averages the messages and every worker applies the same update. Schemes:

- "fp32": no compression (the baseline); "fp16": the gradient cast to IEEE half precision.
- "sign": scaled sign, 1 bit per element plus one FP32 scale, C(v) = (||v||_1 / d) sign(v)
  (Karimireddy, Rebjock, Stich & Jaggi 2019, "Error feedback fixes SignSGD", ICML, eq. 2).
- "sign_ef": the same with error feedback: p = lr g + e; send C(p); keep e = p - C(p)
  (Seide et al. 2014, "1-bit SGD", Interspeech; Karimireddy et al. 2019, Algorithm 2, EF-SGD).
- "topk_ef": top-k by magnitude (k = max(1, round(fraction d))) with error feedback
  (Stich, Cordonnier & Jaggi 2018, "Sparsified SGD with memory", NeurIPS).

Everything is seeded numpy (float64): the same inputs give bit-identical curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEMES = ("fp32", "fp16", "sign", "sign_ef", "topk_ef")
LABELS = {"fp32": "full precision (FP32)", "fp16": "FP16 cast", "sign": "1-bit sign, no error feedback",
          "sign_ef": "1-bit sign + error feedback", "topk_ef": "top-k + error feedback"}
L2 = 1e-3  # ridge term so the optimum is unique (assumption)


@dataclass(frozen=True)
class Problem:
    """Per-worker shards (X[w], y[w]) and a held-out test set; labels in {-1, +1}."""

    X: np.ndarray  # (workers, samples, d)
    y: np.ndarray  # (workers, samples)
    X_test: np.ndarray
    y_test: np.ndarray


def make_problem(workers: int, features: int, samples_per_worker: int, seed: int, condition: float,
                 label_noise: float) -> Problem:
    """Seeded logistic-regression data: features with variances from 1 down to 1/condition along random
    directions (ill-conditioned), labels sign(x . w_true) with a fraction label_noise flipped; workers get
    shards that differ in their feature means (non-IID, as federated devices do)."""
    rng = np.random.default_rng(seed)
    d = features
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = np.sqrt(np.geomspace(1.0, 1.0 / condition, d))
    w_true = rng.standard_normal(d)

    def draw(n: int, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = (rng.standard_normal((n, d)) * scales) @ q.T + shift
        yy = np.sign(x @ w_true + 1e-12)
        flip = rng.random(n) < label_noise
        return x, np.where(flip, -yy, yy)

    shifts = 0.3 * rng.standard_normal((workers, d)) * scales @ q.T
    shards = [draw(samples_per_worker, shifts[k]) for k in range(workers)]
    X = np.stack([s[0] for s in shards])
    y = np.stack([s[1] for s in shards])
    X_test, y_test = draw(4 * samples_per_worker, np.zeros(d))
    return Problem(X, y, X_test, y_test)


def loss(p: Problem, w: np.ndarray) -> float:
    """Global training loss: mean logistic loss over all workers' data + L2/2 ||w||^2."""
    z = p.y * (p.X @ w)
    return float(np.mean(np.logaddexp(0.0, -z)) + 0.5 * L2 * w @ w)


def accuracy(p: Problem, w: np.ndarray) -> float:
    """Held-out accuracy of sign(x . w)."""
    return float(np.mean(np.sign(p.X_test @ w + 1e-12) == p.y_test))


def _grads(p: Problem, w: np.ndarray) -> np.ndarray:
    """Per-worker full-batch gradients (workers, d)."""
    z = p.y * (p.X @ w)  # (W, n)
    s = -p.y / (1.0 + np.exp(z))  # d/dz of log(1 + e^-z) times y
    return np.einsum("wn,wnd->wd", s, p.X) / p.X.shape[1] + L2 * w


def _scaled_sign(v: np.ndarray) -> np.ndarray:
    """(||v||_1 / d) sign(v), row-wise."""
    return np.abs(v).mean(axis=-1, keepdims=True) * np.where(v >= 0, 1.0, -1.0)


def _topk(v: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(v)
    idx = np.argsort(-np.abs(v), axis=-1, kind="stable")[..., :k]
    np.put_along_axis(out, idx, np.take_along_axis(v, idx, -1), -1)
    return out


def run(p: Problem, scheme: str, steps: int, lr: float, topk_fraction: float = 0.01) -> dict[str, object]:
    """Train with one scheme; returns {"loss": [loss after each step, step 0 first], "accuracy": final}."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r} not in {SCHEMES}")
    workers, _, d = p.X.shape
    w = np.zeros(d)
    err = np.zeros((workers, d))
    k = max(1, int(round(topk_fraction * d)))
    curve = [loss(p, w)]
    for _ in range(steps):
        g = _grads(p, w)
        if scheme == "fp32":
            msg = lr * g
        elif scheme == "fp16":
            msg = lr * g.astype(np.float16).astype(np.float64)
        elif scheme == "sign":
            msg = _scaled_sign(lr * g)
        else:
            acc = lr * g + err
            msg = _scaled_sign(acc) if scheme == "sign_ef" else _topk(acc, k)
            err = acc - msg
        w = w - msg.mean(axis=0)
        curve.append(loss(p, w))
    return {"loss": curve, "accuracy": accuracy(p, w), "final_loss": curve[-1]}


def bits_per_element(scheme: str, topk_fraction: float = 0.01, elements: int = 1 << 20) -> float:
    """Wire bits per gradient element: FP32 32, FP16 16, sign 1 + one FP32 scale per message of `elements`,
    top-k 64 (FP32 value + 32-bit index) per kept element."""
    return {"fp32": 32.0, "fp16": 16.0, "sign": 1.0 + 32.0 / elements, "sign_ef": 1.0 + 32.0 / elements,
            "topk_ef": 64.0 * topk_fraction}[scheme]
