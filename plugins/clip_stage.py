"""The CLIP embedding stage: one float16 vector per image, from the daemon's shared model.

Decoding runs in a small thread pool with a bounded look-ahead (rclip's
trick): while the model embeds one chunk, the next chunks are being decoded,
so the model does not wait for JPEG decoding and memory stays bounded by the
look-ahead. A photo that arrives with its model input already made (the
thumbnail stage's decode, carried under ``MODEL_INPUT``) is not decoded again.
The model's identity is the stage version, so switching models re-embeds
everything, and each stored vector names the model that made it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.imaging.decoding import failure_reason
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.preprocess import MODEL_INPUT
from anagnorisisd.ml.remote import FromWorker, RemoteClip, Stopped
from anagnorisisd.ml.service import EmbeddingModel
from anagnorisisd.stage import Setting, Stage, StageContext, StageInput, StageOutput, StageSkip


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
        self.models.on_ready(self._adopt_model)

    def _adopt_model(self) -> None:
        """Called when the model (re)loads, before the pipeline re-queues for the new version."""
        model = self.models.maybe_model()
        self.version = f"2:{model.identity}" if model else "unavailable"

    def ready(self) -> bool:
        return self.models.ready

    def status(self) -> dict[str, Any]:
        return {"model": self.models.status()}

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        model = self.models.model()
        with self._lock:  # one batch at a time owns the decoders and the session
            return self._embed(model, batch)

    def _embed(self, model: EmbeddingModel, batch: list[StageInput]) -> list[StageOutput]:
        outputs: list[StageOutput | None] = [None] * len(batch)
        made_by: list[tuple[int, FromWorker]] = []
        pending: deque[tuple[int, Future[Any]]] = deque()
        next_index = 0

        def top_up() -> None:
            nonlocal next_index
            while next_index < len(batch) and len(pending) < self.lookahead:
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
            vectors = self._vectors(model, [arr for _, arr in chunk])
            for (index, _), vector in zip(chunk, vectors, strict=True):
                if isinstance(vector, Exception):  # a worker could not embed this one image
                    outputs[index] = StageOutput.fail(str(vector))
                    continue
                source: dict[str, Any] = {}
                if isinstance(vector, FromWorker):  # kept, to redo it if the worker lies
                    made_by.append((index, vector))
                    source = {"worker": vector.worker, "at": vector.at}
                    vector = vector.vector
                outputs[index] = StageOutput.ok({
                    "model": model.identity,
                    "dim": int(vector.shape[0]),
                    "embedding": vector.astype(np.float16).tobytes(),
                    **source,
                })
        for index, made in made_by:  # a worker caught lying while this batch ran: redo
            if isinstance(model, RemoteClip) and model.distrusted(made):
                outputs[index] = StageOutput.later("its worker was caught answering wrongly")
        return [o if o is not None else StageOutput.fail("not processed") for o in outputs]

    @staticmethod
    def _vectors(model: EmbeddingModel, inputs: list[Any]) -> Sequence[Any] | NDArray[Any]:
        """The local session's vectors, or each worker's answer (a FromWorker, or the
        ItemFault that fails that one image)."""
        if isinstance(model, RemoteClip):  # the pixels go out as JPEGs, spread over workers
            try:
                return model.embed_pixels(inputs)
            except (Stopped, CancelledError):
                raise StageSkip("shutting down") from None
        return model.embed_images(np.stack(inputs))

    def _model_input(self, model: EmbeddingModel, item: StageInput) -> Future[Any]:
        """The carried input when an earlier stage decoded the photo for this very model,
        else a decode in the pool: the normalised array for the model here, the upright
        model-size image for remote workers."""
        carried = item.carried.get(MODEL_INPUT)
        remote = isinstance(model, RemoteClip)
        if carried is not None and carried.get("model") == model.identity:
            done: Future[Any] = Future()
            pixels = carried["pixels"]
            done.set_result(pixels if remote else model.preprocess.to_array(pixels))
            return done
        if isinstance(model, RemoteClip):
            return self._pool.submit(model.pixels_from_path, item.path)
        return self._pool.submit(model.preprocess.load, item.path)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
