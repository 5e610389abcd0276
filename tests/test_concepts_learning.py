"""A concept taught from a few photos finds the rest, on pictures it never saw, and asking
next by uncertainty needs fewer answers than asking at random.

The project's own small model (shapes-clip-mini) embeds two libraries drawn with seeds
its training never used: one the person teaches from, one held out to measure on."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from anagnorisisd.app.shapes import COLOURS, SHAPES, make_library
from anagnorisisd.features.concepts import learner
from anagnorisisd.ml.clip import ClipModel
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.ml.session import SessionSettings

MINI = shipped_model_dir("shapes-clip-mini")
CLASSES = len(COLOURS) * len(SHAPES)


def embedded(model: ClipModel, folder: Path, per_class: int, seed: int) -> tuple[
        np.ndarray, np.ndarray]:
    scenes = make_library(folder, per_class * CLASSES, seed=seed, every_class=True)
    vectors = model.embed_images(np.stack([model.preprocess.load(str(p)) for p, _ in scenes]))
    return vectors, np.array([s.label for _, s in scenes])


@pytest.fixture(scope="module")
def libraries():  # type: ignore[no-untyped-def]
    model = ClipModel(ModelFiles("shapes-clip-mini", MINI),
                      SessionSettings(("CPUExecutionProvider",)))
    with tempfile.TemporaryDirectory() as folder:
        taught = embedded(model, Path(folder) / "taught", 30, seed=424_242)
        held_out = embedded(model, Path(folder) / "held-out", 12, seed=990_001)
    return taught, held_out


def measured(trained: learner.Trained, vectors: np.ndarray, truth: np.ndarray) -> tuple[
        float, float]:
    said = trained.scorer.probabilities(vectors) >= trained.threshold
    hits = int((said & truth).sum())
    return hits / max(int(said.sum()), 1), hits / int(truth.sum())


def test_five_examples_find_the_rest_on_pictures_never_seen(libraries) -> None:  # type: ignore[no-untyped-def]
    (vectors, labels), (test_vectors, test_labels) = libraries
    rng = np.random.default_rng(5)
    results = {}
    for concept in ("red star", "blue circle", "yellow square", "green triangle"):
        yes = vectors[rng.choice(np.flatnonzero(labels == concept), 5, replace=False)]
        background = vectors[rng.choice(len(vectors), 300, replace=False)]
        trained = learner.train(yes, vectors[:0], background)
        assert trained is not None
        results[concept] = measured(trained, test_vectors, test_labels == concept)
        assert trained.precision is not None and trained.precision > trained.baseline
    precision = np.mean([p for p, _ in results.values()])
    recall = np.mean([r for _, r in results.values()])
    print({k: (round(p, 2), round(r, 2)) for k, (p, r) in results.items()})
    assert precision >= 0.85, results
    assert recall >= 0.5, results


def test_one_example_is_not_enough_and_says_what_is_missing(libraries) -> None:  # type: ignore[no-untyped-def]
    (vectors, labels), _ = libraries
    one = vectors[np.flatnonzero(labels == "red star")[:1]]
    assert learner.train(one, vectors[:0], vectors[:100]) is None
    assert "needs at least 2 examples" in learner.verdict(1, None, 0.0)
    assert "not yet trustworthy" in learner.verdict(3, 0.9, 0.1)
    assert "not yet trustworthy" in learner.verdict(10, 0.05, 0.1)


def answers_needed(vectors: np.ndarray, labels: np.ndarray, test: tuple[np.ndarray, np.ndarray],
                   colour: str, active: bool, seed: int, target: float = 0.9) -> int:
    """Answers (beyond 2 first examples, both of one shape) until held-out F1 reaches
    `target` on the concept "anything <colour>", asking 5 at a time, by uncertainty or
    at random; the person answers truthfully."""
    rng = np.random.default_rng(seed)
    truth = np.char.startswith(labels.astype(str), colour + " ")
    test_truth = np.char.startswith(test[1].astype(str), colour + " ")
    first = np.flatnonzero(labels == f"{colour} {SHAPES[seed % len(SHAPES)]}")
    yes = list(rng.choice(first, 2, replace=False))
    no: list[int] = []
    answered = 0
    while answered < 200:
        known = set(yes) | set(no)
        rest = np.array([i for i in range(len(vectors)) if i not in known])
        background = vectors[rng.choice(rest, min(300, len(rest)), replace=False)]
        trained = learner.train(vectors[yes], vectors[no] if no else vectors[:0], background)
        assert trained is not None
        precision, recall = measured(trained, test[0], test_truth)
        if precision + recall and 2 * precision * recall / (precision + recall) >= target:
            return answered
        if active:
            p = trained.scorer.probabilities(vectors[rest])
            asked = rest[learner.most_informative(p, trained.threshold, 5)]
        else:
            asked = rng.choice(rest, 5, replace=False)
        for i in asked:
            (yes if truth[i] else no).append(int(i))
        answered += len(asked)
    return answered


def test_asking_next_needs_fewer_answers_than_asking_at_random(libraries) -> None:  # type: ignore[no-untyped-def]
    (vectors, labels), test = libraries
    active, random_ = [], []
    for seed, colour in enumerate(("red", "blue", "purple", "green", "orange", "yellow")):
        active.append(answers_needed(vectors, labels, test, colour, True, seed))
        random_.append(answers_needed(vectors, labels, test, colour, False, seed))
    print(f"answers to reach F1 0.9: asking next {active}, at random {random_}")
    assert np.mean(active) < np.mean(random_), (active, random_)


def test_scoring_is_one_product_and_saves_as_numbers(libraries) -> None:  # type: ignore[no-untyped-def]
    (vectors, labels), _ = libraries
    yes = vectors[np.flatnonzero(labels == "red star")[:6]]
    trained = learner.train(yes, vectors[:0], vectors[::7])
    assert trained is not None
    again = learner.Scorer.restore(trained.scorer.state())
    assert np.allclose(again.probabilities(vectors), trained.scorer.probabilities(vectors),
                       atol=1e-5)


def test_no_examples_or_no_library_trains_nothing(libraries) -> None:  # type: ignore[no-untyped-def]
    (vectors, _labels), _ = libraries
    assert learner.train(vectors[:0], vectors[:0], vectors[:50]) is None
    assert learner.train(vectors[:3], vectors[:0], vectors[:0]) is None
