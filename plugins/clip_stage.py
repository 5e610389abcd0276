"""The CLIP embedding stage: one float16 vector per image, from the daemon's shared model.

The model is whatever implements the image-model protocol (ml.protocol: the local ONNX
session or remote immich workers); this stage never asks which. Its pixels are a view of
the pipeline's one decode at the size the model declares; preparing the model's input
runs in a small thread pool with a bounded look-ahead (rclip's trick): while the model
embeds one chunk, the next chunks are being prepared (and decoded, for a photo no earlier
stage decoded), so the model does not wait and memory stays bounded by the look-ahead.
The model's identity is the stage version, so switching models re-embeds everything, and
each stored vector names the model that made it. A video is embedded scene by scene
(``StageInput.moments``), in the caller's thread: the video lane's, never the photos'.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np

from anagnorisisd.imaging.decoding import failure_reason
from anagnorisisd.imaging.video import is_video
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.protocol import Embedded, ImageModel, Stopped
from anagnorisisd.pipeline.per_file import scenes_of
from anagnorisisd.stage import (
    PixelNeed,
    Setting,
    Stage,
    StageContext,
    StageInput,
    StageOutput,
    StageSkip,
)


class ClipStage(Stage):
    name: ClassVar[str] = "clip"
    provides: ClassVar[tuple[str, ...]] = ("embedding",)
    config_schema: ClassVar[dict[str, Setting]] = {
        "model_batch": Setting(int, 16, "images per ONNX Runtime call", 1, 1024),
        "decode_threads": Setting(int, 2, "decoder threads", 1, 64),
        "lookahead": Setting(int, 48, "images decoded ahead of the model, at most", 1, 10_000),
    }

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        if context is None or context.models is None:
            raise ModelError("the clip stage needs the daemon's model service")
        self.models = context.models
        self.model_batch = max(1, int(config["model_batch"]))
        self.lookahead = max(self.model_batch, int(config["lookahead"]))
        self.batch_size = 64
        self._pool = ThreadPoolExecutor(max(1, int(config["decode_threads"])),
                                        thread_name_prefix="clip-decode")
        self._lock = threading.Lock()
        self._adopt_model()

    def _adopt_model(self) -> None:
        """Called when the model (re)loads, before the pipeline re-queues for the new version."""
        model = self.models.maybe_model()
        self.version = f"2:{model.identity}" if model else "unavailable"

    def pixel_need(self) -> PixelNeed | None:
        model = self.models.maybe_model()
        return model.pixel_need() if model is not None else None

    def ready(self) -> bool:
        """Ready with a model; the runner polls this (and then the version), so the stage
        follows a model that (re)loads without subscribing to anything."""
        self._adopt_model()
        return bool(self.models.ready)

    def status(self) -> dict[str, Any]:
        return {"model": self.models.status()}

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        model = self.models.model()
        with self._lock:  # one batch at a time owns the decoders and the session
            return self._embed(model, batch)

    def _embed(self, model: ImageModel, batch: list[StageInput]) -> list[StageOutput]:
        outputs: list[StageOutput | None] = [None] * len(batch)
        for index, item in enumerate(batch):
            if is_video(item.path):
                outputs[index] = self._video(model, item)
        made_by: list[tuple[int, Embedded]] = []
        pending: deque[tuple[int, Future[Any]]] = deque()
        next_index = 0

        def top_up() -> None:
            nonlocal next_index
            while next_index < len(batch) and len(pending) < self.lookahead:
                if outputs[next_index] is None:
                    pending.append((next_index, self._model_input(model, batch[next_index])))
                next_index += 1

        top_up()
        while pending:
            chunk: list[tuple[int, Any]] = []
            while pending and len(chunk) < self.model_batch:
                index, future = pending.popleft()
                try:
                    chunk.append((index, future.result()))
                except CancelledError:  # the daemon is stopping: nothing to say about the file
                    raise StageSkip("shutting down") from None
                except FileNotFoundError:
                    outputs[index] = StageOutput.later("the file vanished while it was read")
                except Exception as exc:  # a bad file fails alone
                    outputs[index] = StageOutput.fail(failure_reason(exc))
            top_up()  # keep the decoders busy while the model runs
            if not chunk:
                continue
            results = self._vectors(model, [arr for _, arr in chunk])
            for (index, _), made in zip(chunk, results, strict=True):
                if isinstance(made, Exception):  # the model could not embed this one image
                    outputs[index] = StageOutput.fail(str(made))
                    continue
                made_by.append((index, made))
                outputs[index] = StageOutput.ok({
                    "model": model.identity,
                    "dim": int(made.vector.shape[0]),
                    "embedding": made.vector.astype(np.float16).tobytes(),
                    **made.source,  # where a remote vector came from, to redo it if it lied
                })
        for index, made in made_by:  # its maker caught answering wrongly meanwhile: redo
            if not model.trusted(made):
                outputs[index] = StageOutput.later("its worker was caught answering wrongly")
        return [o if o is not None else StageOutput.fail("not processed") for o in outputs]

    def _video(self, model: ImageModel, item: StageInput) -> StageOutput:
        """A clip's vector is the mean of its scenes' (what near-duplicates and the evaluator
        compare); each scene's own vector and time are kept beside it, so a search finds the
        moment (``moments``, ``moment_embeddings``: float16 rows in the same order)."""
        moments = scenes_of(item, model.pixel_need())
        if isinstance(moments, StageOutput):
            return moments
        try:
            prepared = [model.prepare(image) for _, image in moments]
        except Exception as exc:  # a picture the model cannot take: this file's alone
            return StageOutput.fail(failure_reason(exc))
        made = self._vectors(model, prepared)
        problem = next((m for m in made if isinstance(m, Exception)), None)
        if problem is not None:
            return StageOutput.fail(str(problem))
        done = [m for m in made if isinstance(m, Embedded)]
        if not all(model.trusted(m) for m in done):
            return StageOutput.later("its worker was caught answering wrongly")
        rows = np.stack([m.vector for m in done]).astype(np.float32)
        mean = rows.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        return StageOutput.ok({
            "model": model.identity, "dim": int(mean.shape[0]),
            "embedding": mean.astype(np.float16).tobytes(),
            "moments": [round(float(at or 0.0), 3) for at, _ in moments],
            "moment_embeddings": rows.astype(np.float16).tobytes(), **done[0].source})

    @staticmethod
    def _vectors(model: ImageModel, inputs: list[Any]) -> Sequence[Embedded | Exception]:
        try:
            return model.embed_prepared(inputs)
        except (Stopped, CancelledError):
            raise StageSkip("shutting down") from None

    def _model_input(self, model: ImageModel, item: StageInput) -> Future[Any]:
        """The model's input, prepared in the pool from the photo's view at the model's
        size (decoding the photo there if no earlier stage has)."""
        need = model.pixel_need()
        return self._pool.submit(lambda: model.prepare(item.pixels(need)))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
