"""Text to token ids for CLIP text encoders, from the model's own tokenizer.json.

CLIP cleans text before its BPE (ftfy's fixes, HTML unescaping, collapsing
whitespace, lower case); the `tokenizers` file does the BPE, the start and
end tokens and truncation. Padding uses the model's pad token, as the
immich-app models expect.
"""

from __future__ import annotations

import html
import re

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from anagnorisisd.ml.layout import ModelError, ModelFiles

try:  # ftfy is what CLIP itself uses to repair text; without it, mojibake stays as it is
    import ftfy

    def _fix_text(text: str) -> str:
        return str(ftfy.fix_text(text))
except ImportError:  # pragma: no cover - ftfy is a dependency, but stay usable without it

    def _fix_text(text: str) -> str:
        return text

_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    text = html.unescape(html.unescape(_fix_text(text)))
    return _WHITESPACE.sub(" ", text).strip().lower()


class ClipTokenizer:
    def __init__(self, files: ModelFiles) -> None:
        self.context_length = files.context_length
        pad_token = str(files.tokenizer_cfg["pad_token"])
        try:
            self.tokenizer = Tokenizer.from_file(str(files.root / "textual" / "tokenizer.json"))
        except Exception as exc:
            raise ModelError(f"model '{files.name}': textual/tokenizer.json: {exc}") from None
        pad_id = self.tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ModelError(f"model '{files.name}': pad token {pad_token!r} is not in the vocab")
        self.pad_id = pad_id
        self.tokenizer.enable_truncation(max_length=self.context_length)
        self.tokenizer.enable_padding(length=self.context_length, pad_id=pad_id,
                                      pad_token=pad_token)

    def ids(self, text: str) -> list[int]:
        """The unpadded ids: start token, BPE of the cleaned text, end token."""
        encoding = self.tokenizer.encode(clean_text(text))
        return [i for i, m in zip(encoding.ids, encoding.attention_mask, strict=True) if m]

    def encode(self, texts: list[str]) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Token ids padded to the context length, and the attention mask (1 for real
        tokens) that graphs such as M-CLIP's take beside them."""
        encodings = self.tokenizer.encode_batch([clean_text(t) for t in texts])
        return (np.asarray([e.ids for e in encodings], dtype=np.int32),
                np.asarray([e.attention_mask for e in encodings], dtype=np.int32))

    def __call__(self, texts: list[str]) -> NDArray[np.int32]:
        return self.encode(texts)[0]
