"""A CLIP model ready to embed: files, preprocessing, tokenizer and two sessions."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from blake3 import blake3
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.ml import text_front
from anagnorisisd.ml.digests import remembered
from anagnorisisd.ml.layout import ModelError, ModelFiles
from anagnorisisd.ml.preprocess import Preprocessor
from anagnorisisd.ml.protocol import Embedded
from anagnorisisd.ml.session import OnnxEncoder, SessionSettings
from anagnorisisd.ml.tokenizer import ClipTokenizer
from anagnorisisd.stage import PixelNeed

log = logging.getLogger(__name__)


def l2_normalise(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    out: NDArray[np.float32] = (x / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


class ClipModel:
    """Image and text embeddings from one installed model.

    The text side loads on first query and unloads when idle (queries are
    rare next to images); recent query embeddings are cached.
    """

    def __init__(self, files: ModelFiles, settings: SessionSettings,
                 text_settings: SessionSettings | None = None, text_cache_size: int = 256,
                 visual_graph: Path | None = None, exact_decode: bool = False,
                 cache_dir: Path | None = None) -> None:
        files.validate()
        self.files = files
        self.name = files.name
        self.embed_dim = files.embed_dim
        self.preprocess = replace(Preprocessor.from_config(files.preprocess_cfg),
                                  draft=not exact_decode)
        self.visual_graph = visual_graph or files.visual
        self.visual = OnnxEncoder(self.visual_graph, ("image",), settings)
        self.cache_dir = cache_dir
        """Where what is derived from the model's files is kept between processes: its
        identity, the split text graph (the daemon's data directory's cache/)."""
        self.front_cache = cache_dir / "text-front" if cache_dir else None
        self.front = text_front.cached(files.textual, self.front_cache) \
            if self.front_cache else None
        """The text graph with its token table split out (ml/text_front.py), once made."""
        # open_clip exports take "text"; M-CLIP's take "input_ids" and an "attention_mask".
        self.textual = OnnxEncoder(self.front.graph if self.front else files.textual,
                                   ("text", "input_ids"), text_settings or settings)
        self._tokenizer: ClipTokenizer | None = None
        self._text_cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._text_cache_size = text_cache_size
        self._text_lock = threading.Lock()

    @cached_property
    def identity(self) -> str:
        """name@digest of what decides the embeddings: the visual graph and its preprocessing.

        It is part of the embedding stage's version, so installing different
        weights under the same name still re-embeds everything. Reading a 350 MB graph
        takes a cold command line's query a good part of a second, so the digest is kept
        in the cache, under the files' sizes and modification times.
        """
        cfg = self.files.root / "visual" / "preprocess_cfg.json"

        def digest() -> str:
            hasher = blake3(max_threads=blake3.AUTO)
            hasher.update_mmap(str(self.visual_graph))
            hasher.update(cfg.read_bytes())
            return hasher.hexdigest()[:12]

        exact = "" if self.preprocess.draft else "+exact"
        found = remembered(self.cache_dir / "digests.json", [self.visual_graph, cfg], digest) \
            if self.cache_dir else digest()
        return f"{self.name}@{found}{exact}"

    @property
    def tokenizer(self) -> ClipTokenizer:
        if self._tokenizer is None:
            self._tokenizer = ClipTokenizer(self.files)
        return self._tokenizer

    def embed_images(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        return l2_normalise(self.visual.run(batch))

    def embed_image(self, img: Image.Image) -> NDArray[np.float32]:
        """One upright RGB image, resized and cropped as the model wants it."""
        vector: NDArray[np.float32] = self.embed_images(self.preprocess(img)[np.newaxis])[0]
        return vector

    # ------------------------------------------------------ the ImageModel protocol
    def pixel_need(self) -> PixelNeed:
        """Its input's short side, decoded at a reduced JPEG scale no smaller; the whole
        photo under [model] exact_decode, as immich decodes it."""
        return PixelNeed(shortest=self.preprocess.size) if self.preprocess.draft else PixelNeed()

    def prepare(self, img: Image.Image) -> NDArray[np.float32]:
        return self.preprocess(img)

    def embed_prepared(self, inputs: list[Any]) -> list[Embedded | Exception]:
        return [Embedded(v) for v in self.embed_images(np.stack(inputs))]

    def trusted(self, made: Embedded) -> bool:
        return True

    def embed_texts(self, texts: list[str], language: str | None = None,
                    ) -> NDArray[np.float32]:
        ids, mask = self.tokenizer.encode(texts, language)
        extra: dict[str, NDArray[np.generic]] = {"attention_mask": mask}
        if self.front is not None:
            extra[self.front.input_name] = self.front.lookup(ids)
        return l2_normalise(self.textual.run(ids, extra))

    def prepare_query_graph(self) -> None:
        """Write the split text graph for the next process's queries (a few seconds, once
        per model; the daemon does it after loading)."""
        if self.front_cache is not None and self.front is None:
            text_front.prepare(self.files.textual, self.front_cache)

    def embed_text(self, text: str, language: str | None = None) -> NDArray[np.float32]:
        key = f"{language or ''}\x00{text}"
        with self._text_lock:
            cached = self._text_cache.get(key)
            if cached is not None:
                self._text_cache.move_to_end(key)
                return cached
        vector: NDArray[np.float32] = self.embed_texts([text], language)[0]
        with self._text_lock:
            self._text_cache[key] = vector
            while len(self._text_cache) > self._text_cache_size:
                self._text_cache.popitem(last=False)
        return vector

    def status(self) -> dict[str, Any]:
        """Its part of the model service's status."""
        return {"backend": "local", "providers": self.visual.providers_in_use,
                "text_session_loaded": self.textual.loaded, "warning": self.warning()}

    def warning(self) -> str | None:
        """What its own config says it is unfit for (the shipped demo model says it cannot
        tell photos apart), to be said wherever its results are used."""
        from anagnorisisd.ml.layout import fitness_warning

        return fitness_warning(self.files.config)

    def close(self) -> None:
        """Nothing to stop: the sessions end with the process."""

    def unload_idle(self) -> None:
        """Give back the text session's memory when no query came for a while."""
        self.textual.unload_if_idle()


def quantized_visual(files: ModelFiles) -> Path:
    """The int8 dynamically quantised copy of the image encoder, made once next to it."""
    target = files.root / "visual" / "model.int8.onnx"
    if not target.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(".tmp.onnx")
        try:
            quantize_dynamic(str(files.visual), str(tmp), weight_type=QuantType.QInt8)
        except Exception as exc:
            raise ModelError(f"model '{files.name}': cannot quantise its image encoder: "
                             f"{exc}") from None
        tmp.replace(target)
        log.info("made the int8 image encoder %s", target)
    return target
