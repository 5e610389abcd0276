"""The personal evaluator: candidate regressors from embedding to rating, chosen by what
validates best on this person's own ratings.

Candidates, all in numpy: the mean (the baseline every figure is compared
with), ridge regression at a few strengths, cosine kNN, and a one-hidden-layer
MLP. Selection is by cross-validated mean absolute error, so with few ratings
a simple model wins and with many a flexible one can.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
Vector = NDArray[np.float64]
MIN_RATINGS = 10
UNIFORM_STD = 0.35


class Regressor(Protocol):
    name: str

    def fit(self, x: Matrix, y: Vector) -> None: ...

    def predict(self, x: Matrix) -> Vector: ...

    def state(self) -> dict[str, Any]: ...


class MeanModel:
    name = "mean"

    def __init__(self) -> None:
        self.mean = 5.0

    def fit(self, x: Matrix, y: Vector) -> None:
        self.mean = float(y.mean())

    def predict(self, x: Matrix) -> Vector:
        return np.full(len(x), self.mean)

    def state(self) -> dict[str, Any]:
        return {"mean": self.mean}


class RidgeModel:
    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.name = f"ridge(alpha={alpha:g})"
        self.w: Vector = np.zeros(1)
        self.b = 0.0

    def fit(self, x: Matrix, y: Vector) -> None:
        xd = x.astype(np.float64)
        mu = xd.mean(axis=0)
        xc = xd - mu
        self.b = float(y.mean())
        # Dual form: n x n, cheap while ratings are fewer than dimensions.
        gram = xc @ xc.T + self.alpha * np.eye(len(xc))
        self.w = xc.T @ np.linalg.solve(gram, y - self.b)
        self.b -= float(mu @ self.w)

    def predict(self, x: Matrix) -> Vector:
        return np.clip(x.astype(np.float64) @ self.w + self.b, 0, 10)

    def state(self) -> dict[str, Any]:
        return {"w": self.w.astype(np.float32).tobytes(), "b": self.b, "alpha": self.alpha}


class KnnModel:
    def __init__(self, k: int) -> None:
        self.k = k
        self.name = f"knn(k={k})"
        self.x: Matrix = np.zeros((0, 1), np.float32)
        self.y: Vector = np.zeros(0)

    def fit(self, x: Matrix, y: Vector) -> None:
        self.x, self.y = x.astype(np.float32), y.astype(np.float64)

    def predict(self, x: Matrix) -> Vector:
        sims = x.astype(np.float32) @ self.x.T
        k = min(self.k, self.x.shape[0])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weights = np.maximum(np.take_along_axis(sims, top, 1), 0) + 1e-6
        out: Vector = (weights * self.y[top]).sum(axis=1) / weights.sum(axis=1)
        return out

    def state(self) -> dict[str, Any]:
        return {"k": self.k, "x": self.x.tobytes(), "y": self.y.astype(np.float32).tobytes(),
                "dim": int(self.x.shape[1])}


@dataclass
class MlpModel:
    """One hidden layer (tanh), Adam, weight decay; reports loss per epoch for the chart."""

    hidden: int = 64
    epochs: int = 200
    lr: float = 0.01
    decay: float = 1e-3
    seed: int = 0
    name: str = "mlp(64)"
    history: list[dict[str, float]] = field(default_factory=list)
    params: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    on_epoch: Callable[[int, float, float | None], None] | None = None

    def fit(self, x: Matrix, y: Vector, x_val: Matrix | None = None,
            y_val: Vector | None = None, cancelled: threading.Event | None = None) -> None:
        rng = np.random.default_rng(self.seed)
        d = x.shape[1]
        p = {"w1": rng.normal(0, 1 / np.sqrt(d), (d, self.hidden)), "b1": np.zeros(self.hidden),
             "w2": rng.normal(0, 1 / np.sqrt(self.hidden), self.hidden), "b2": np.array(
                 [float(y.mean())])}
        m = {k: np.zeros_like(v) for k, v in p.items()}
        v = {k: np.zeros_like(val) for k, val in p.items()}
        xd = x.astype(np.float64)
        self.history = []
        for epoch in range(1, self.epochs + 1):
            if cancelled is not None and cancelled.is_set():
                return
            h = np.tanh(xd @ p["w1"] + p["b1"])
            pred = h @ p["w2"] + p["b2"][0]
            err = pred - y
            g_pred = 2 * err / len(y)
            grads = {"w2": h.T @ g_pred + self.decay * p["w2"], "b2": np.array([g_pred.sum()])}
            g_h = np.outer(g_pred, p["w2"]) * (1 - h * h)
            grads["w1"] = xd.T @ g_h + self.decay * p["w1"]
            grads["b1"] = g_h.sum(axis=0)
            for key in p:
                m[key] = 0.9 * m[key] + 0.1 * grads[key]
                v[key] = 0.999 * v[key] + 0.001 * grads[key] ** 2
                m_hat = m[key] / (1 - 0.9**epoch)
                v_hat = v[key] / (1 - 0.999**epoch)
                p[key] = p[key] - self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
            self.params = p
            train_mae = float(np.abs(np.clip(pred, 0, 10) - y).mean())
            val_mae = (float(np.abs(self.predict(x_val) - y_val).mean())
                       if x_val is not None and y_val is not None and len(y_val) else None)
            self.history.append({"epoch": epoch, "train_mae": train_mae,
                                 **({"val_mae": val_mae} if val_mae is not None else {})})
            if self.on_epoch is not None:
                self.on_epoch(epoch, train_mae, val_mae)

    def predict(self, x: Matrix) -> Vector:
        p = self.params
        h = np.tanh(x.astype(np.float64) @ p["w1"] + p["b1"])
        out: Vector = np.clip(h @ p["w2"] + p["b2"][0], 0, 10)
        return out

    def state(self) -> dict[str, Any]:
        return {k: v.astype(np.float32).tobytes() for k, v in self.params.items()} | {
            "hidden": self.hidden, "dim": int(self.params["w1"].shape[0])}


def candidates(n: int) -> list[Regressor]:
    out: list[Regressor] = [RidgeModel(a) for a in (0.1, 1.0, 10.0)]
    out += [KnnModel(k) for k in (3, 7, 15) if k < n]
    out.append(MlpModel(epochs=150))
    return out


def average_ranks(values: Vector) -> Vector:
    """Ranks from 0, ties sharing their mean rank (as Spearman's rho requires)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end - 1) / 2
            start = end
    return ranks


def spearman(a: Vector, b: Vector) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(average_ranks(a), average_ranks(b))[0, 1])


def folds(n: int, k: int, seed: int = 0) -> list[NDArray[np.intp]]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def cross_validate(make: Callable[[], Regressor], x: Matrix, y: Vector,
                   k: int) -> tuple[float, float, Vector]:
    """Out-of-fold MAE, Spearman and predictions."""
    predictions = np.zeros(len(y))
    for held in folds(len(y), k):
        train = np.setdiff1d(np.arange(len(y)), held)
        model = make()
        model.fit(x[train], y[train])
        predictions[held] = model.predict(x[held])
    return float(np.abs(predictions - y).mean()), spearman(predictions, y), predictions


@dataclass
class Selection:
    chosen: str
    scores: list[dict[str, Any]]
    baseline: dict[str, float]
    final: dict[str, float]
    verdict: str


def verdict(n: int, y: Vector, final_mae: float, baseline_mae: float) -> str:
    if n < MIN_RATINGS:
        return (f"only {n} ratings: rate at least {MIN_RATINGS} (and better 50 or more) "
                "for a model worth having")
    if float(np.std(y)) < UNIFORM_STD:
        return ("your ratings are nearly all the same, so nothing can predict better than "
                "their mean; rate some images you like less or more")
    if final_mae < baseline_mae * 0.95:
        gain = 1 - final_mae / baseline_mae
        more = "" if n >= 200 else f"; about {max(50, 2 * n)} ratings would make it steadier"
        return f"beats the always-the-mean baseline by {gain:.0%} in mean absolute error{more}"
    return (f"does not beat the always-the-mean baseline yet with {n} ratings; "
            f"rate about {max(50, 2 * n)} images, including ones from 'rate-next'")


def select(x: Matrix, y: Vector) -> tuple[Selection, Callable[[], Regressor]]:
    """Cross-validate every candidate; return the scores and a factory for the winner."""
    n = len(y)
    k = 5 if n >= 25 else max(2, min(n, 5))
    base_mae, _, _ = cross_validate(MeanModel, x, y, k)
    scores: list[dict[str, Any]] = []
    makers: dict[str, Callable[[], Regressor]] = {}
    for candidate in candidates(n):
        maker = _factory(candidate)
        mae, rho, _ = cross_validate(maker, x, y, k)
        scores.append({"model": candidate.name, "mae": mae, "spearman": rho})
        makers[candidate.name] = maker
    best = min(scores, key=lambda s: float(s["mae"]))
    selection = Selection(
        chosen=best["model"], scores=scores,
        baseline={"mae": base_mae, "spearman": 0.0},
        final={"mae": best["mae"], "spearman": best["spearman"], "folds": k, "n": n},
        verdict=verdict(n, y, best["mae"], base_mae),
    )
    return selection, makers[best["model"]]


def _factory(candidate: Regressor) -> Callable[[], Regressor]:
    if isinstance(candidate, RidgeModel):
        alpha = candidate.alpha
        return lambda: RidgeModel(alpha)
    if isinstance(candidate, KnnModel):
        k = candidate.k
        return lambda: KnnModel(k)
    if isinstance(candidate, MlpModel):
        return lambda: MlpModel(epochs=150)
    return MeanModel


def restore(kind: str, state: dict[str, Any]) -> Regressor:
    """Rebuild a persisted evaluator from `state()`."""
    if kind.startswith("ridge"):
        r = RidgeModel(float(state["alpha"]))
        r.w = np.frombuffer(state["w"], dtype=np.float32).astype(np.float64)
        r.b = float(state["b"])
        return r
    if kind.startswith("knn"):
        kn = KnnModel(int(state["k"]))
        kn.x = np.frombuffer(state["x"], dtype=np.float32).reshape(-1, int(state["dim"]))
        kn.y = np.frombuffer(state["y"], dtype=np.float32).astype(np.float64)
        return kn
    if kind.startswith("mlp"):
        hidden, dim = int(state["hidden"]), int(state["dim"])
        mlp = MlpModel(hidden=hidden)
        shapes = {"w1": (dim, hidden), "b1": (hidden,), "w2": (hidden,), "b2": (1,)}
        mlp.params = {k: np.frombuffer(state[k], dtype=np.float32).astype(np.float64).reshape(s)
                      for k, s in shapes.items()}
        return mlp
    mean = MeanModel()
    mean.mean = float(state["mean"])
    return mean


def most_informative(candidates: Matrix, x: Matrix, y: Vector, count: int,
                     rng: np.random.Generator) -> list[int]:
    """Indices of the candidates whose ratings should teach a model most.

    Uncertainty is the distance to the nearest rated image plus, once there
    are a few ratings, the disagreement of bootstrap ridge models. The
    shortlist of the most uncertain is then thinned by farthest-point
    selection, so one batch does not ask five times about the same thing.
    """
    distance = 1 - (candidates @ x.T).max(axis=1) if len(y) else np.ones(len(candidates))
    spread = np.zeros(len(candidates))
    if len(y) >= 8:
        predictions = []
        for _ in range(5):
            sample = rng.integers(0, len(y), len(y))
            ridge = RidgeModel(1.0)
            ridge.fit(x[sample], y[sample])
            predictions.append(ridge.predict(candidates))
        spread = np.std(predictions, axis=0) / 2.5
    uncertainty = distance / max(float(distance.max()), 1e-9) + spread
    shortlist = np.argsort(-uncertainty)[: max(count * 5, count)]
    chosen = [int(shortlist[0])]
    nearest = 1 - candidates[shortlist] @ candidates[chosen[0]]
    while len(chosen) < min(count, len(shortlist)):
        pick = int(np.argmax(nearest * (0.5 + uncertainty[shortlist])))
        chosen.append(int(shortlist[pick]))
        nearest = np.minimum(nearest, 1 - candidates[shortlist] @ candidates[shortlist[pick]])
    return chosen
