"""A small, deterministic, non-convex distributed training run with compressed communication (lab 06 part 3).

W workers each hold a shard of a seeded classification problem (the code generates it: labels from a
random two-layer teacher network, a fraction flipped, shards with shifted feature means, as
federated devices and data-parallel shards of real corpora differ). Every worker trains the same
two-layer MLP (tanh hidden layer, softmax output, cross-entropy: a non-convex loss) with Adam on
its shard's full batch; what crosses the network each step is compressed by the scheme:

- "adam": full-precision Adam, gradients averaged exactly (the baseline).
- "fp16": the gradients cast to IEEE half precision before averaging.
- "onebit": 1-bit Adam (Tang et al. 2021, '1-bit Adam: communication efficient large-scale training
  with Adam's convergence speed', ICML, Algorithm 1): `warmup` steps of full-precision Adam, then the
  second moment v is frozen and the momentum is communicated as a scaled sign, C(u) = (||u||_1 / d)
  sign(u), with error compensation on both sides of the compressed all-reduce (each worker keeps
  e_i = u_i - C(u_i), the server e = u - C(u)).
- "onebit_noef": the same without error compensation (the biased compressor alone).
- "onebit_nowarmup": 1-bit Adam whose variance is frozen after the first step (no warm-up).
- "topk": after the same warm-up, the momentum sparsified to its largest `topk_fraction` entries
  (Stich, Cordonnier & Jaggi 2018, 'Sparsified SGD with memory', NeurIPS), with error compensation.

Everything is seeded numpy (float64): the same inputs give bit-identical curves. Sized to run in well
under a second per scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEMES = ("adam", "fp16", "onebit_noef", "onebit", "onebit_nowarmup", "topk")
LABELS = {"adam": "full-precision Adam", "fp16": "FP16 cast", "onebit_noef": "1-bit, no error feedback",
          "onebit": "1-bit Adam (warm-up + error feedback)", "onebit_nowarmup": "1-bit, no warm-up",
          "topk": "top-k + error feedback"}
COMPRESSED_AFTER_WARMUP = ("onebit_noef", "onebit", "topk")
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # Adam defaults (Kingma & Ba 2015)


@dataclass(frozen=True)
class Problem:
    """Per-worker shards (X[w], Y[w] one-hot), a held-out test set and the student's shape."""

    X: np.ndarray  # (workers, samples, features)
    Y: np.ndarray  # (workers, samples, classes), one-hot
    X_test: np.ndarray
    y_test: np.ndarray  # class indices
    hidden: int
    seed: int

    @property
    def features(self) -> int:
        return self.X.shape[2]

    @property
    def classes(self) -> int:
        return self.Y.shape[2]

    @property
    def params(self) -> int:
        f, h, c = self.features, self.hidden, self.classes
        return f * h + h + h * c + c


def make_problem(workers: int, features: int, samples_per_worker: int, seed: int, classes: int = 4,
                 hidden: int = 32, condition: float = 20.0, label_noise: float = 0.05) -> Problem:
    """Seeded teacher-student classification: inputs with variances from 1 down to 1/condition along random
    directions, labels = argmax of a random tanh teacher (2 x hidden units), a fraction flipped to a random
    class; worker shards shifted in their means (non-IID)."""
    rng = np.random.default_rng(seed)
    d = features
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = np.sqrt(np.geomspace(1.0, 1.0 / condition, d))
    w1 = rng.standard_normal((d, 2 * hidden)) * 2.0 / np.sqrt(d)
    w2 = rng.standard_normal((2 * hidden, classes)) / np.sqrt(2 * hidden)

    def draw(n: int, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = (rng.standard_normal((n, d)) * scales) @ q.T + shift
        y = np.argmax(np.tanh(x @ q @ w1) @ w2, axis=1)
        flip = rng.random(n) < label_noise
        return x, np.where(flip, rng.integers(0, classes, n), y)

    shifts = 0.3 * (rng.standard_normal((workers, d)) * scales) @ q.T
    shards = [draw(samples_per_worker, shifts[k]) for k in range(workers)]
    X = np.stack([s[0] for s in shards])
    Y = np.stack([np.eye(classes)[s[1]] for s in shards])
    X_test, y_test = draw(4 * samples_per_worker, np.zeros(d))
    return Problem(X, Y, X_test, y_test, hidden, seed)


def init_params(p: Problem) -> np.ndarray:
    """Glorot-style initial weights (seeded from the problem's seed), flattened."""
    rng = np.random.default_rng(p.seed + 1)
    f, h, c = p.features, p.hidden, p.classes
    w1 = rng.standard_normal((f, h)) / np.sqrt(f)
    w2 = rng.standard_normal((h, c)) / np.sqrt(h)
    return np.concatenate([w1.ravel(), np.zeros(h), w2.ravel(), np.zeros(c)])


def _unpack(p: Problem, theta: np.ndarray) -> tuple[np.ndarray, ...]:
    f, h, c = p.features, p.hidden, p.classes
    i = 0
    w1 = theta[i:i + f * h].reshape(f, h)
    i += f * h
    b1 = theta[i:i + h]
    i += h
    w2 = theta[i:i + h * c].reshape(h, c)
    i += h * c
    return w1, b1, w2, theta[i:i + c]


def _forward(p: Problem, theta: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w1, b1, w2, b2 = _unpack(p, theta)
    a = np.tanh(X @ w1 + b1)
    z = a @ w2 + b2
    z = z - z.max(axis=-1, keepdims=True)
    prob = np.exp(z)
    return a, prob / prob.sum(axis=-1, keepdims=True)


def loss(p: Problem, theta: np.ndarray) -> float:
    """Mean cross-entropy over every worker's data."""
    _, prob = _forward(p, theta, p.X)
    return float(-np.mean(np.sum(p.Y * np.log(prob + 1e-300), axis=-1)))


def accuracy(p: Problem, theta: np.ndarray) -> float:
    _, prob = _forward(p, theta, p.X_test)
    return float(np.mean(np.argmax(prob, axis=-1) == p.y_test))


def _loss_and_grads(p: Problem, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """The global loss at theta and the per-worker full-batch gradients (workers, params), by
    backpropagation through one forward pass."""
    w1, _, w2, _ = _unpack(p, theta)
    a, prob = _forward(p, theta, p.X)  # (W, n, h), (W, n, c)
    n = p.X.shape[1]
    value = float(-np.mean(np.sum(p.Y * np.log(prob + 1e-300), axis=-1)))
    dz = (prob - p.Y) / n  # (W, n, c)
    g_w2 = np.matmul(a.transpose(0, 2, 1), dz)
    g_b2 = dz.sum(axis=1)
    da = dz @ w2.T * (1.0 - a * a)  # (W, n, h)
    g_w1 = np.matmul(p.X.transpose(0, 2, 1), da)
    g_b1 = da.sum(axis=1)
    W = p.X.shape[0]
    return value, np.concatenate([g_w1.reshape(W, -1), g_b1, g_w2.reshape(W, -1), g_b2], axis=1)


def scaled_sign(v: np.ndarray) -> np.ndarray:
    """(||v||_2 / sqrt(d)) sign(v) along the last axis, sign(0) = +1: the sign with the scale that keeps the
    vector's norm, as 1-bit Adam's compressed all-reduce scales each worker's and the server's chunk
    (DeepSpeed runtime/comm: scale = norm(x) / sqrt(numel))."""
    return np.sqrt(np.mean(v * v, axis=-1, keepdims=True)) * np.where(v >= 0, 1.0, -1.0)


def topk(v: np.ndarray, k: int) -> np.ndarray:
    """The k largest-magnitude entries of each row, the rest zero."""
    out = np.zeros_like(v)
    idx = np.argsort(-np.abs(v), axis=-1, kind="stable")[..., :k]
    np.put_along_axis(out, idx, np.take_along_axis(v, idx, -1), -1)
    return out


def run(p: Problem, scheme: str, steps: int, lr: float, warmup: int, topk_fraction: float = 0.01,
        native_fp16: bool = False) -> dict[str, object]:
    """Train with one scheme; returns {"loss": [loss before step 1, after each step], "accuracy": final,
    "final_loss", "compressed_steps": steps whose messages were compressed}.

    native_fp16: the track's gradients are FP16 (2 bytes), so the uncompressed steps of the compressed schemes (their
    warm-up) average FP16-cast gradients as the "fp16" baseline does: 1-bit Adam's warm-up is the engine's own
    uncompressed all-reduce (Tang et al. 2021, Algorithm 1: vanilla Adam), which under FP16 training moves FP16
    gradients; its cost is already charged at the FP16 step (explorer/puzzles/compression/model.py)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r} not in {SCHEMES}")
    theta = init_params(p)
    workers = p.X.shape[0]
    m = np.zeros(p.params)
    v = np.zeros(p.params)
    err_w = np.zeros((workers, p.params))
    err_s = np.zeros(p.params)
    k = max(1, int(round(topk_fraction * p.params)))
    freeze = 1 if scheme == "onebit_nowarmup" else (warmup if scheme in COMPRESSED_AFTER_WARMUP else None)
    cast16 = scheme == "fp16" or (native_fp16 and freeze is not None)
    curve = []
    compressed = 0
    for t in range(1, steps + 1):
        value, g = _loss_and_grads(p, theta)
        curve.append(value)
        if not np.isfinite(value):
            break
        if freeze is None or t <= freeze:  # plain Adam on averaged (possibly FP16-cast) gradients
            if cast16:
                g = g.astype(np.float16).astype(np.float64)
            gm = g.mean(axis=0)
            m = BETA1 * m + (1 - BETA1) * gm
            v = BETA2 * v + (1 - BETA2) * gm * gm
            m_hat = m / (1 - BETA1 ** t)
            v_hat = v / (1 - BETA2 ** t)
            theta = theta - lr * m_hat / (np.sqrt(v_hat) + EPS)
            if freeze is not None and t == freeze:
                v_frozen = v / (1 - BETA2 ** t)
            continue
        # compression stage (Tang et al. 2021, Algorithm 1): local momenta, compressed all-reduce, frozen v
        compressed += 1
        local = BETA1 * m + (1 - BETA1) * g  # (W, d): each worker's momentum with its own gradient
        use_ef = scheme != "onebit_noef"
        u = local + err_w if use_ef else local
        sent = topk(u, k) if scheme == "topk" else scaled_sign(u)
        if use_ef:
            err_w = u - sent
        avg = sent.mean(axis=0)
        u_s = avg + err_s if use_ef else avg
        m = topk(u_s[None, :], k)[0] if scheme == "topk" else scaled_sign(u_s)
        if use_ef:
            err_s = u_s - m
        theta = theta - lr * m / (np.sqrt(v_frozen) + EPS)
    curve.append(loss(p, theta))
    curve += [float("nan")] * (steps + 1 - len(curve))  # a run that blew up stays blown up
    return {"loss": curve, "accuracy": accuracy(p, theta) if np.all(np.isfinite(theta)) else 0.0,
            "final_loss": curve[-1], "compressed_steps": compressed}


def steps_to_target(curve: list[float], target: float) -> int | None:
    """The first step after which the loss is at or below the target (None: never within the run)."""
    for i, x in enumerate(curve):
        if np.isfinite(x) and x <= target:
            return i
    return None
