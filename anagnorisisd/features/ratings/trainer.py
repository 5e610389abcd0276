"""Ratings in, a personal evaluator out: training in the background, predictions for all.

One run at a time: gather the rated images' embeddings, cross-validate the
candidates (anagnorisisd.rating.evaluator), draw a per-epoch learning curve for the
panel, fit the winner on everything, save it with a version, then predict
every embedded image and store each prediction with that version. Images
embedded later are predicted as they arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.features.ratings import evaluator
from anagnorisisd.ml.service import needs_model
from anagnorisisd.search.service import SearchService, decode_embedding
from anagnorisisd.store.database import Store
from anagnorisisd.store.records import pack, unpack

log = logging.getLogger(__name__)


class TrainingBusy(Exception):
    """A run is already going."""


class Cancelled(Exception):
    pass


class Evaluator:
    """A trained, persisted model and what it was trained on."""

    def __init__(self, version: str, kind: str, model: evaluator.Predictor, identity: str,
                 metrics: dict[str, Any]) -> None:
        self.version, self.kind, self.model = version, kind, model
        self.identity, self.metrics = identity, metrics

    def predict(self, vectors: NDArray[np.float32]) -> NDArray[np.float64]:
        return np.clip(self.model.predict(vectors), 0, 10)


class Trainer:
    def __init__(self, store: Store, search: SearchService, directory: Path) -> None:
        self.store = store
        self.search = search
        self.directory = directory
        self.status: dict[str, Any] = {"state": "idle", "progress": 0.0, "curve": []}
        self.current: Evaluator | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.load()

    # ------------------------------------------------------------ persistence
    @property
    def path(self) -> Path:
        return self.directory / "evaluator.msgpack"

    def load(self) -> None:
        try:
            data = unpack(self.path.read_bytes())
            model = evaluator.restore(data["state"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if self.path.exists():  # an older format: its predictions stay until retrained
                log.warning("evaluator %s not loaded (%s); train again", self.path, exc)
                self.status = {"state": "idle", "progress": 0.0, "curve": [],
                               "verdict": f"the saved evaluator could not be read ({exc}): "
                                          "train again"}
            return
        self.current = Evaluator(data["version"], data["kind"], model, data["identity"],
                                 data["metrics"])
        self.status = dict(data.get("status", self.status))

    def save(self, ev: Evaluator, state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(pack({"version": ev.version, "kind": ev.kind,
                              "state": state, "identity": ev.identity,
                              "metrics": ev.metrics, "status": self.status}))
        tmp.replace(self.path)

    # ---------------------------------------------------------------- control
    def start(self) -> None:
        with self._lock:
            if self.status["state"] == "running":
                raise TrainingBusy("a training run is already going")
            self._cancel.clear()
            self.status = {"state": "running", "progress": 0.0, "curve": [],
                           "started_at": time.time(), "phase": "gathering ratings"}
            self._thread = threading.Thread(target=self._run, name="train", daemon=True)
            self._thread.start()

    def cancel(self) -> bool:
        if self.status["state"] != "running":
            return False
        self._cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _progress(self, value: float, phase: str) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self.status["progress"] = round(value, 3)
        self.status["phase"] = phase

    # ------------------------------------------------------------------ a run
    def training_data(self) -> tuple[list[bytes], NDArray[np.float32], NDArray[np.float64]]:
        """Rated images that are in the library and embedded by the current model."""
        ids, rows, ratings = [], [], []
        for content, rating in self.store.ratings():
            if content not in self.search.catalog:
                continue
            vector = self.search.vector(content)
            if vector is None:
                continue
            ids.append(content)
            rows.append(vector)
            ratings.append(float(rating["value"]))
        x = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 1), np.float32)
        return ids, x, np.asarray(ratings, dtype=np.float64)

    def _run(self) -> None:
        try:
            self._train()
        except Cancelled:
            self.status.update(state="cancelled", finished_at=time.time())
        except Exception as exc:  # a failed run is reported, never raised into the daemon
            log.exception("training failed")
            self.status.update(state="failed", error=f"{type(exc).__name__}: {exc}",
                               finished_at=time.time())

    def _train(self) -> None:
        model = self.search.models.maybe_model()
        if model is None:
            raise RuntimeError(needs_model("Training"))
        _ids, x, y = self.training_data()
        self.status["n_ratings"] = len(y)
        if len(y) < 2:
            self.status.update(state="failed", verdict=evaluator.verdict(len(y), y, 0, 0),
                               error=f"only {len(y)} rated images with embeddings",
                               finished_at=time.time())
            return
        selection, chosen = evaluator.select(
            x, y, lambda f: self._progress(0.05 + 0.45 * f, "cross-validating candidates"))
        self.status.update(scores=selection.scores, baseline=selection.baseline,
                           chosen=selection.chosen, verdict=selection.verdict)
        self.status["curve"] = evaluator.curve(
            chosen, x, y, lambda f: self._progress(0.5 + 0.3 * f, "drawing the learning curve"))
        self._progress(0.8, "fitting the chosen model on all ratings")
        fitted = evaluator.fit(chosen, x, y)
        version = time.strftime("ev-%Y%m%dT%H%M%S", time.gmtime()) + f"-{len(y)}"
        ev = Evaluator(version, selection.chosen, fitted, model.identity, selection.final)
        self._progress(0.85, "predicting every image")
        self.current = ev
        self.predict_all(ev)
        self.status.update(state="done", progress=1.0, final=selection.final,
                           version=version, finished_at=time.time(), phase="done")
        self.save(ev, evaluator.state(fitted))
        log.info("evaluator %s trained on %d ratings: %s", version, len(y), selection.verdict)

    # -------------------------------------------------------------- predicting
    def predict_all(self, ev: Evaluator) -> int:
        model = self.search.models.maybe_model()
        if model is None or model.identity != ev.identity:
            return 0  # embeddings of another model: its predictions would be meaningless
        contents = list(self.search.catalog.entries)
        done = 0
        for start in range(0, len(contents), 512):
            if self._cancel.is_set():
                raise Cancelled
            chunk, rows = [], []
            for content in contents[start : start + 512]:
                vector = self.search.vector(content)
                if vector is None:
                    continue
                chunk.append(content)
                rows.append(vector)
            if chunk:
                self._store_predictions(ev, chunk, np.stack(rows))
                done += len(chunk)
            self.status["progress"] = round(0.85 + 0.15 * (start + 512) / max(len(contents), 1),
                                            3)
        return done

    def _store_predictions(self, ev: Evaluator, contents: list[bytes],
                           vectors: NDArray[np.float32]) -> None:
        values = ev.predict(vectors)
        with self.store.write() as w:
            for content, value in zip(contents, values, strict=True):
                w.set_prediction(content, round(float(value), 3), ev.version)
        for content, value in zip(contents, values, strict=True):
            self.search.catalog.set_rating(content, model=(round(float(value), 3), ev.version))

    def on_result(self, stage: str, content: bytes, output: dict[str, Any]) -> None:
        """New images are predicted as they arrive."""
        ev = self.current
        if stage != self.search.embedding_stage or ev is None or output.get("model") != ev.identity:
            return
        self._store_predictions(ev, [content], decode_embedding(output)[np.newaxis])

    def public_status(self) -> dict[str, Any]:
        out = {k: v for k, v in self.status.items()}
        out["model_version"] = self.current.version if self.current else None
        out["model_kind"] = self.current.kind if self.current else None
        return out

    # -------------------------------------------------------- beyond anchors
    def rate_next(self, count: int = 20, pool: int = 5000, seed: int = 0) -> list[bytes]:
        """Unrated images whose rating would teach the model most: the most uncertain
        (far from anything rated, and where bootstrap models disagree), kept diverse
        by farthest-point selection."""
        rng = np.random.default_rng(seed)
        rated_ids, x, y = self.training_data()
        rated = set(rated_ids)
        candidates = [c for c, e in self.search.catalog.entries.items()
                      if e.user_rating is None and c not in rated]
        if len(candidates) > pool:
            candidates = [candidates[i] for i in rng.choice(len(candidates), pool, replace=False)]
        vectors, keep = [], []
        for content in candidates:
            vector = self.search.vector(content)
            if vector is not None:
                vectors.append(vector)
                keep.append(content)
        if not keep:
            return []
        chosen = evaluator.most_informative(np.stack(vectors).astype(np.float32), x, y, count,
                                            rng)
        return [keep[i] for i in chosen]

    def explain(self, content: bytes, k: int = 5) -> dict[str, Any]:
        """The model's rating and the nearest images the person rated, with their ratings."""
        ids, x, y = self.training_data()
        vector = self.search.vector(content)
        entry = self.search.catalog.get(content)
        out: dict[str, Any] = {
            "id": content.hex(),
            "model_rating": entry.model_rating if entry else None,
            "model_version": entry.model_version if entry else None,
            "current_model_version": self.current.version if self.current else None,
            "user_rating": entry.user_rating if entry else None,
            "neighbours": [],
        }
        if vector is None or not ids:
            return out
        sims = x @ vector
        others = [i for i in np.argsort(-sims) if ids[i] != content]  # never itself
        for i in others[:k]:
            paths = sorted(self.store.paths_for(ids[i]))
            out["neighbours"].append({"id": ids[i].hex(), "path": paths[0] if paths else None,
                                      "user_rating": float(y[i]),
                                      "similarity": round(float(sims[i]), 4)})
        return out
