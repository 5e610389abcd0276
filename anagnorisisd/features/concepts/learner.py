"""A yes/no classifier over image vectors, from a few examples, with honest numbers.

The person marks a handful of photos "yes" (and perhaps some "not this"); everything
else in the library is, for training, a sample of "probably not" (a concept is rare:
Rex is in a few hundred of 50,000 photos). Two candidates are cross-validated on the
same folds and the better one by held-out average precision is kept:

- ``logistic``: scikit-learn's logistic regression with balanced class weights, the
  model a sidecar project for immich and most few-shot CLIP papers use on frozen
  vectors (linear probes);
- ``centroid``: the cosine to the mean of the yes examples, squashed to 0..1 by a
  one-feature logistic fit; it needs no more than two examples and wins when there
  are very few.

The threshold is the one that maximises F1 on the held-out predictions, and the
precision and recall shown are those held-out ones at that threshold, never the
training fit. The baseline is what guessing "yes" for everything would score (the
share of yes among the examples): a concept that does not beat it is said to be not
yet trustworthy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
MIN_EXAMPLES = 2
"""Fewer yes examples than this and nothing is trained: there is nothing to compare."""
TRUSTED_EXAMPLES = 5
"""Fewer than this and the numbers are shown but called not yet trustworthy."""
BACKGROUND = 1000
"""Photos from the library drawn as "probably not" examples."""
CANDIDATES = ("logistic", "centroid")


@dataclass
class Scorer:
    """A trained concept: w·x + b through a sigmoid (both candidates end in that form,
    the centroid's w being its mean direction scaled), so scoring 100,000 photos is one
    matrix product and the model saves as a vector and a number."""

    kind: str
    weights: NDArray[np.float64]
    bias: float

    def probabilities(self, x: Matrix) -> NDArray[np.float64]:
        """One float32 product (no float64 copy of 100,000 vectors), then the sigmoid."""
        product = x.astype(np.float32, copy=False) @ self.weights.astype(np.float32)
        z = np.clip(product.astype(np.float64) + self.bias, -50, 50)
        out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return out

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "weights": self.weights.astype("<f4").tobytes(),
                "bias": self.bias}

    @classmethod
    def restore(cls, saved: dict[str, Any]) -> Scorer:
        return cls(str(saved["kind"]),
                   np.frombuffer(saved["weights"], dtype="<f4").astype(np.float64),
                   float(saved["bias"]))


@dataclass
class Trained:
    scorer: Scorer
    threshold: float
    precision: float | None
    recall: float | None
    baseline: float
    examples: int
    negatives: int
    scores: dict[str, float] = field(default_factory=dict)
    """Each candidate's held-out average precision."""

    @property
    def verdict(self) -> str:
        return verdict(self.examples, self.precision, self.baseline)


def verdict(examples: int, precision: float | None, baseline: float) -> str:
    """One sentence on whether to trust the concept yet."""
    if examples < MIN_EXAMPLES:
        return (f"needs at least {MIN_EXAMPLES} examples to learn from "
                f"({examples} so far): mark more photos as this")
    if examples < TRUSTED_EXAMPLES:
        return (f"not yet trustworthy: learned from {examples} examples; "
                f"{TRUSTED_EXAMPLES} or more give numbers worth believing")
    if precision is None or precision <= baseline:
        return ("not yet trustworthy: on photos it did not learn from it does no better "
                "than guessing; mark more examples, and some that are not this")
    return f"learned from {examples} examples"


def fit(kind: str, x: Matrix, y: NDArray[np.int_]) -> Scorer:
    from sklearn.linear_model import LogisticRegression  # here: a search never pays for it

    if kind == "logistic":
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=500)
        model.fit(x, y)
        return Scorer(kind, model.coef_[0].astype(np.float64), float(model.intercept_[0]))
    mean = x[y == 1].mean(axis=0).astype(np.float64)
    mean /= max(float(np.linalg.norm(mean)), 1e-12)
    cosine = (x.astype(np.float64) @ mean)[:, None]
    squash = LogisticRegression(C=100.0, class_weight="balanced", max_iter=500)
    squash.fit(cosine, y)
    return Scorer(kind, mean * float(squash.coef_[0, 0]), float(squash.intercept_[0]))


def held_out(kind: str, x: Matrix, y: NDArray[np.int_], seed: int) -> NDArray[np.float64]:
    """Every example's probability from a model that did not see it."""
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(5, int(y.sum()), int((y == 0).sum())))
    out = np.zeros(len(y), dtype=np.float64)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        out[test] = fit(kind, x[train], y[train]).probabilities(x[test])
    return out


def best_threshold(y: NDArray[np.int_], p: NDArray[np.float64]) -> tuple[float, float, float]:
    """(threshold, precision, recall) where F1 is highest on held-out predictions."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(y[order] == 1)
    taken = np.arange(1, len(y) + 1)
    precision, recall = hits / taken, hits / max(int(y.sum()), 1)
    f1 = np.where(hits > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    best = int(np.argmax(f1))
    below = p[order[best + 1]] if best + 1 < len(order) else 0.0
    threshold = float((p[order[best]] + below) / 2)
    return threshold, float(precision[best]), float(recall[best])


def unlike(yes: Matrix, background: Matrix) -> Matrix:
    """The background photos less like the examples than the least typical example is.

    The background is unlabelled: a sample of 1,000 from a library where Rex is in 2 %
    of the photos holds about 20 photos of Rex, which as "not this" would teach the
    model against its own concept and understate its held-out precision. Those nearer
    the examples' mean than the farthest example are left out."""
    mean = yes.mean(axis=0)
    mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
    kept: Matrix = background[background @ mean < float((yes @ mean).min())]
    return kept


def train(yes: Matrix, no: Matrix, background: Matrix, seed: int = 0) -> Trained | None:
    """The better candidate fitted on everything, with held-out numbers; None with fewer
    than MIN_EXAMPLES yes examples or no example of "not" at all."""
    from sklearn.metrics import average_precision_score

    if len(yes) < MIN_EXAMPLES:
        return None
    negatives = np.concatenate([no, unlike(yes, background)]) if len(background) else no
    if len(negatives) < MIN_EXAMPLES:
        return None
    x = np.concatenate([yes, negatives]).astype(np.float32)
    y = np.concatenate([np.ones(len(yes), int), np.zeros(len(negatives), int)])
    scores, predictions = {}, {}
    for kind in CANDIDATES:
        predictions[kind] = held_out(kind, x, y, seed)
        scores[kind] = round(float(average_precision_score(y, predictions[kind])), 4)
    chosen = max(CANDIDATES, key=lambda k: scores[k])
    threshold, precision, recall = best_threshold(y, predictions[chosen])
    return Trained(fit(chosen, x, y), threshold, round(precision, 4), round(recall, 4),
                   round(len(yes) / len(y), 4), len(yes), len(negatives), scores)


def most_informative(p: NDArray[np.float64], threshold: float, count: int) -> NDArray[np.intp]:
    """The photos whose answer would teach most: those the model is least sure of,
    nearest its threshold (uncertainty sampling), the likelier ones first among equals."""
    distance = np.abs(np.log(np.maximum(p, 1e-12) / np.maximum(1 - p, 1e-12)) -
                      np.log(max(threshold, 1e-12) / max(1 - threshold, 1e-12)))
    count = min(count, len(p))
    if count <= 0:
        return np.zeros(0, dtype=np.intp)
    nearest = np.argpartition(distance, count - 1)[:count]
    out: NDArray[np.intp] = nearest[np.lexsort((-p[nearest], distance[nearest]))]
    return out
