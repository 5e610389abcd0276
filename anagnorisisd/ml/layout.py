"""The on-disk model layout (as published under immich-app/ on the Hugging Face hub).

    NAME/config.json                    open_clip model config (embed_dim, text_cfg...)
    NAME/visual/model.onnx              input "image" N x 3 x H x W float32 -> "embedding"
    NAME/visual/preprocess_cfg.json     size, mean, std, interpolation, resize_mode
    NAME/textual/model.onnx             input "text" N x context_length int32 -> "embedding"
    NAME/textual/tokenizer.json         a `tokenizers` tokenizer
    NAME/textual/tokenizer_config.json  pad_token and friends
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUIRED_FILES = (
    "config.json",
    "visual/model.onnx",
    "visual/preprocess_cfg.json",
    "textual/model.onnx",
    "textual/tokenizer.json",
    "textual/tokenizer_config.json",
)
# What `model pull` downloads: the layout and nothing else (no other formats, no READMEs).
DOWNLOAD_PATTERNS = [*REQUIRED_FILES, "visual/model.onnx_data", "textual/model.onnx_data"]


def install_hint(name: str = "NAME") -> str:
    """How to get a model, online or not: one sentence every place that lacks one says. A
    model that ships inside anagnorisisd (the demo's) is imported from there, never pulled."""
    shipped = Path(__file__).resolve().parent / "shipped" / name
    if name != "NAME" and shipped.is_dir():
        return (f"'{name}' ships with anagnorisisd: 'anagnorisisd model import {shipped}' "
                "installs it")
    return (f"'anagnorisisd model pull {name}' downloads it; offline, copy the model's folder "
            f"(immich-app/{name} on the Hugging Face hub, as immich lays it out) from a "
            "machine that has it and run 'anagnorisisd model import DIR'; to try everything "
            "first, 'make demo' (or 'anagnorisisd demo DIR') uses the small model this "
            "project ships")


def fitness_warning(config: dict[str, Any]) -> str | None:
    """What a model's own config.json says it is not fit for, if anything (the shipped
    demo model: trained on drawn shapes, it cannot tell photos apart)."""
    if config.get("fit_for_photos", True) is not False:
        return None
    return str(config.get("fitness_note") or
               f"model '{config.get('model', '?')}' is not fit for photos")


class ModelError(Exception):
    """A model that is missing or unusable, said in one line with what to do."""


@dataclass(frozen=True)
class ModelFiles:
    name: str
    root: Path

    @property
    def visual(self) -> Path:
        return self.root / "visual" / "model.onnx"

    @property
    def textual(self) -> Path:
        return self.root / "textual" / "model.onnx"

    def json(self, relative: str) -> dict[str, Any]:
        path = self.root / relative
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"model '{self.name}' lacks {relative}") from None
        except (OSError, ValueError) as exc:
            raise ModelError(f"model '{self.name}': {relative} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ModelError(f"model '{self.name}': {relative} must hold a JSON object")
        return data

    @property
    def config(self) -> dict[str, Any]:
        return self.json("config.json")

    @property
    def preprocess_cfg(self) -> dict[str, Any]:
        return self.json("visual/preprocess_cfg.json")

    @property
    def tokenizer_cfg(self) -> dict[str, Any]:
        return self.json("textual/tokenizer_config.json")

    @property
    def embed_dim(self) -> int:
        return int(self.config.get("embed_dim", 0))

    @property
    def context_length(self) -> int:
        return int(self.config.get("text_cfg", {}).get("context_length", 77))

    def validate(self) -> None:
        """Raise ModelError naming the first thing wrong with this folder."""
        if not self.root.is_dir():
            raise ModelError(f"model '{self.name}' is not installed ({self.root} does not exist)")
        missing = [f for f in REQUIRED_FILES if not (self.root / f).is_file()]
        if missing:
            raise ModelError(f"model '{self.name}' at {self.root} lacks {', '.join(missing)}")
        if self.embed_dim <= 0:
            raise ModelError(f"model '{self.name}': config.json has no positive embed_dim")
        cfg = self.preprocess_cfg
        for key in ("size", "mean", "std"):
            if key not in cfg:
                raise ModelError(f"model '{self.name}': visual/preprocess_cfg.json lacks '{key}'")
        if "pad_token" not in self.tokenizer_cfg:
            raise ModelError(f"model '{self.name}': textual/tokenizer_config.json lacks pad_token")
