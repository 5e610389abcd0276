"""The personal evaluator: candidate regressors from embedding to rating, chosen by what
validates best on this person's own ratings.

The models and the cross-validation are scikit-learn's (ridge regression,
distance-weighted cosine kNN, a one-hidden-layer MLP, the always-the-mean
baseline, K-fold splits and out-of-fold predictions): they are well tested, and a
hand-written copy of each was the part of this module most likely to be
subtly wrong. Selection is by cross-validated mean absolute error, so with
few ratings a simple model wins and with many a flexible one can.

What is persisted is not a pickle (loading one runs code) but the fitted
arrays, read back into small numpy predictors that compute exactly what the
fitted estimator's `predict` did.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sklearn.base import RegressorMixin
    from sklearn.model_selection import KFold

# scikit-learn and SciPy take a second to import; they are imported where they are used, so
# that neither the daemon's start nor any CLI command pays for them before a training run.

Matrix = NDArray[np.float32]
Vector = NDArray[np.float64]
MIN_RATINGS = 10
UNIFORM_STD = 0.35
CURVE_POINTS = 6


class Predictor(Protocol):
    def predict(self, x: Matrix) -> Vector: ...


@dataclass(frozen=True)
class Candidate:
    """A named, unfitted estimator; `make` gives a fresh one for every fit."""

    name: str
    make: Callable[[], RegressorMixin]
    min_train: int = 2
    """The fewest ratings it can be fitted on (kNN needs k of them)."""


def candidates(n: int) -> list[Candidate]:
    """What competes on n ratings: kNN only where every training fold has k neighbours."""
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPRegressor

    out = [Candidate(f"ridge(alpha={a:g})", partial(Ridge, alpha=a)) for a in (0.1, 1.0, 10.0)]
    out += [Candidate(f"knn(k={k})", partial(KNeighborsRegressor, n_neighbors=k,
                                             weights="distance", metric="cosine"), k)
            for k in (3, 7, 15) if k < n * 0.6]
    out.append(Candidate("mlp(64)", partial(
        MLPRegressor, hidden_layer_sizes=(64,), alpha=1e-3, learning_rate_init=0.01,
        max_iter=300, random_state=0)))
    return out


def baseline() -> Candidate:
    from sklearn.dummy import DummyRegressor

    return Candidate("mean", partial(DummyRegressor, strategy="mean"))


def spearman(a: Vector, b: Vector) -> float:
    """Rank agreement; 0 where either side is constant (no ranking to agree with)."""
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def splits(n: int) -> KFold:
    from sklearn.model_selection import KFold

    return KFold(n_splits=5 if n >= 25 else max(2, min(n, 5)), shuffle=True, random_state=0)


def held_out_mae(candidate: Candidate, x: Matrix, y: Vector, cv: KFold) -> tuple[float, Vector]:
    """Mean over folds of each fold's MAE (scikit-learn's convention, so the learning
    curve's last point is this very number), and the out-of-fold predictions."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_predict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        predicted = np.clip(cross_val_predict(candidate.make(), x, y, cv=cv), 0, 10)
    errors = [float(np.abs(predicted[test] - y[test]).mean()) for _, test in cv.split(x)]
    return float(np.mean(errors)), predicted


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


def select(x: Matrix, y: Vector,
           checkpoint: Callable[[float], None] = lambda _: None) -> tuple[Selection, Candidate]:
    """Cross-validate every candidate; the scores and the winner. `checkpoint(fraction)`
    is called between candidates, for progress and to stop a cancelled run."""
    cv = splits(len(y))
    base_mae, _ = held_out_mae(baseline(), x, y, cv)
    scores: list[dict[str, Any]] = []
    pool = candidates(len(y))
    for i, candidate in enumerate(pool):
        checkpoint(i / len(pool))
        mae, predicted = held_out_mae(candidate, x, y, cv)
        scores.append({"model": candidate.name, "mae": mae, "spearman": spearman(predicted, y)})
    best = min(range(len(pool)), key=lambda i: float(scores[i]["mae"]))
    selection = Selection(
        chosen=pool[best].name, scores=scores,
        baseline={"mae": base_mae, "spearman": 0.0},
        final={"mae": scores[best]["mae"], "spearman": scores[best]["spearman"],
               "folds": cv.get_n_splits(), "n": len(y)},
        verdict=verdict(len(y), y, scores[best]["mae"], base_mae),
    )
    return selection, pool[best]


def curve(candidate: Candidate, x: Matrix, y: Vector,
          checkpoint: Callable[[float], None] = lambda _: None) -> list[dict[str, float]]:
    """Held-out and training MAE of the chosen model, and the baseline's held-out MAE, by
    how many ratings each fold's model learned from. Same folds as the selection, and the
    last point trains on each whole fold, so it is exactly the figure the panel quotes."""
    cv = splits(len(y))
    folds = list(cv.split(x))
    largest = max(len(train) for train, _ in folds)
    smallest = min(max(5, candidate.min_train), largest)
    sizes = np.unique(np.linspace(smallest, largest, CURVE_POINTS).astype(int))
    order = np.random.default_rng(0)
    shuffled = [(train, order.permutation(train), test) for train, test in folds]
    points = []
    for step, size in enumerate(sizes):
        checkpoint(step / len(sizes))
        errors: dict[str, list[float]] = {"train_mae": [], "val_mae": [], "baseline_mae": []}
        for train, mixed, test in shuffled:
            part = train if size >= len(train) else mixed[:size]  # whole: as selected
            model = fit(candidate, x[part], y[part])
            errors["train_mae"].append(_mae(model, x[part], y[part]))
            errors["val_mae"].append(_mae(model, x[test], y[test]))
            errors["baseline_mae"].append(float(np.abs(y[test] - y[part].mean()).mean()))
        points.append({"n": int(min(size, largest))} |
                      {k: round(float(np.mean(v)), 4) for k, v in errors.items()})
    return points


def _mae(model: RegressorMixin, x: Matrix, y: Vector) -> float:
    return float(np.abs(np.clip(model.predict(x), 0, 10) - y).mean())


def fit(candidate: Candidate, x: Matrix, y: Vector) -> RegressorMixin:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = candidate.make().fit(x, y)
    return estimator


# ------------------------------------------------------------------ persistence
class Linear:
    """Ridge's and the mean's predict: x · w + b."""

    def __init__(self, w: Vector, b: float) -> None:
        self.w, self.b = w, b

    def predict(self, x: Matrix) -> Vector:
        out: Vector = x.astype(np.float64) @ self.w + self.b
        return out


class Network:
    """MLPRegressor's forward pass: ReLU hidden layers, identity output."""

    def __init__(self, weights: list[Vector], biases: list[Vector]) -> None:
        self.weights, self.biases = weights, biases

    def predict(self, x: Matrix) -> Vector:
        h: Vector = x.astype(np.float64)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0)
        out: Vector = h[:, 0]
        return out


def _array(a: Any) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.float64)
    return {"data": a.tobytes(), "shape": list(a.shape)}


def _unarray(d: dict[str, Any]) -> Vector:
    return np.frombuffer(d["data"], dtype=np.float64).reshape(d["shape"])


def state(estimator: RegressorMixin) -> dict[str, Any]:
    """The fitted arrays, msgpack-ready."""
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPRegressor

    if isinstance(estimator, Ridge):
        return {"type": "linear", "w": _array(estimator.coef_),
                "b": float(estimator.intercept_)}
    if isinstance(estimator, DummyRegressor):
        return {"type": "linear", "w": None, "b": float(np.ravel(estimator.constant_)[0])}
    if isinstance(estimator, KNeighborsRegressor):
        return {"type": "knn", "k": estimator.n_neighbors, "x": _array(estimator._fit_X),
                "y": _array(estimator._y)}
    if isinstance(estimator, MLPRegressor):
        if estimator.activation != "relu" or estimator.out_activation_ != "identity":
            raise ValueError(f"cannot save an MLP with {estimator.activation} units")
        return {"type": "mlp", "weights": [_array(w) for w in estimator.coefs_],
                "biases": [_array(b) for b in estimator.intercepts_]}
    raise ValueError(f"cannot save a {type(estimator).__name__}")


def restore(saved: dict[str, Any]) -> Predictor:
    """A predictor from `state()`; a ValueError for anything else (an older format)."""
    kind = saved.get("type")
    if kind == "linear":
        w = _unarray(saved["w"]) if saved["w"] is not None else None
        if w is None:
            return _Constant(float(saved["b"]))
        return Linear(w, float(saved["b"]))
    if kind == "knn":
        from sklearn.neighbors import KNeighborsRegressor

        neighbours = KNeighborsRegressor(n_neighbors=int(saved["k"]), weights="distance",
                                         metric="cosine")
        neighbours.fit(_unarray(saved["x"]), _unarray(saved["y"]))  # storing them is the fit
        fitted: Predictor = neighbours
        return fitted
    if kind == "mlp":
        return Network([_unarray(w) for w in saved["weights"]],
                       [_unarray(b) for b in saved["biases"]])
    raise ValueError(f"unknown evaluator format {kind!r}: train again")


class _Constant:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, x: Matrix) -> Vector:
        return np.full(len(x), self.value)


# ------------------------------------------------------------------ rate-next
def most_informative(pool: Matrix, x: Matrix, y: Vector, count: int,
                     rng: np.random.Generator) -> list[int]:
    """Indices of the pool's images whose ratings should teach a model most.

    Uncertainty is the distance to the nearest rated image plus, once there
    are a few ratings, the disagreement of bootstrap ridge models. The
    shortlist of the most uncertain is then thinned by farthest-point
    selection, so one batch does not ask five times about the same thing.
    """
    from sklearn.linear_model import Ridge

    distance = 1 - (pool @ x.T).max(axis=1) if len(y) else np.ones(len(pool))
    spread = np.zeros(len(pool))
    if len(y) >= 8:
        predictions = []
        for _ in range(5):
            sample = rng.integers(0, len(y), len(y))
            predictions.append(np.clip(Ridge(alpha=1.0).fit(x[sample], y[sample]).predict(pool),
                                       0, 10))
        spread = np.std(predictions, axis=0) / 2.5
    uncertainty = distance / max(float(distance.max()), 1e-9) + spread
    shortlist = np.argsort(-uncertainty)[: max(count * 5, count)]
    chosen = [int(shortlist[0])]
    nearest = 1 - pool[shortlist] @ pool[chosen[0]]
    while len(chosen) < min(count, len(shortlist)):
        pick = int(np.argmax(nearest * (0.5 + uncertainty[shortlist])))
        chosen.append(int(shortlist[pick]))
        nearest = np.minimum(nearest, 1 - pool[shortlist] @ pool[shortlist[pick]])
    return chosen
