"""Text to token ids for CLIP text encoders, from the model's own tokenizer.json.

The text is cleaned exactly as immich's machine-learning service cleans it before
tokenizing, so a model gives the same ids (and embeddings) here as there: runs of
white space become one space, and, only when the model's config.json says
``text_cfg.tokenizer_kwargs.clean = "canonicalize"`` (the SigLIP families),
punctuation is removed and the text lower-cased. Nothing else: no ftfy, no HTML
unescaping (``&amp;`` stays as typed), no lower-casing unless the tokenizer's own
normaliser does it (CLIP's BPE does). The `tokenizers` file does the rest: its
normaliser, the subwords, start and end tokens, truncation and padding with the
model's pad token to its context length.
"""

from __future__ import annotations

import string

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from anagnorisisd.ml.layout import ModelError, ModelFiles

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def clean_text(text: str, canonicalize: bool = False) -> str:
    text = " ".join(text.split())
    return text.translate(_PUNCTUATION).lower() if canonicalize else text


class ClipTokenizer:
    def __init__(self, files: ModelFiles) -> None:
        self.context_length = files.context_length
        kwargs = files.config.get("text_cfg", {}).get("tokenizer_kwargs") or {}
        self.canonicalize = kwargs.get("clean") == "canonicalize"
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
        encoding = self.tokenizer.encode(clean_text(text, self.canonicalize))
        return [i for i, m in zip(encoding.ids, encoding.attention_mask, strict=True) if m]

    def encode(self, texts: list[str]) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Token ids padded to the context length, and the attention mask (1 for real
        tokens) that graphs such as M-CLIP's take beside them."""
        encodings = self.tokenizer.encode_batch([clean_text(t, self.canonicalize) for t in texts])
        return (np.asarray([e.ids for e in encodings], dtype=np.int32),
                np.asarray([e.attention_mask for e in encodings], dtype=np.int32))

    def __call__(self, texts: list[str]) -> NDArray[np.int32]:
        return self.encode(texts)[0]
