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
# Common two-letter language codes to FLORES-200 codes, for tokenizers (NLLB's) that take
# the language as a leading token. A FLORES code itself (fra_Latn) is accepted as it is.
FLORES = {
    "ar": "arb_Arab", "bn": "ben_Beng", "ca": "cat_Latn", "cs": "ces_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "fa": "pes_Arab",
    "fi": "fin_Latn", "fr": "fra_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hu": "hun_Latn",
    "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "nl": "nld_Latn",
    "no": "nob_Latn", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "sk": "slk_Latn", "sv": "swe_Latn", "th": "tha_Thai", "tr": "tur_Latn", "uk": "ukr_Cyrl",
    "vi": "vie_Latn", "zh": "zho_Hans",
}


def flores_code(language: str) -> str:
    """'fr', 'fr-CA' or 'fra_Latn' -> 'fra_Latn'; an unknown code is returned as given."""
    if "_" in language:
        return language
    return FLORES.get(language.lower(), FLORES.get(language.split("-")[0].lower(), language))


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

    def language_prefix(self, language: str | None) -> str:
        """The text to put before a query for this language: the FLORES-200 code when this
        tokenizer knows it as a token (NLLB's do), else nothing. Decided by the tokenizer's
        own vocabulary, never by the model's name."""
        if not language:
            return ""
        code = flores_code(language)
        return code if self.tokenizer.token_to_id(code) is not None else ""

    def ids(self, text: str) -> list[int]:
        """The unpadded ids: start token, BPE of the cleaned text, end token."""
        encoding = self.tokenizer.encode(clean_text(text, self.canonicalize))
        return [i for i, m in zip(encoding.ids, encoding.attention_mask, strict=True) if m]

    def encode(self, texts: list[str], language: str | None = None,
               ) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Token ids padded to the context length, and the attention mask (1 for real
        tokens) that graphs such as M-CLIP's take beside them."""
        prefix = self.language_prefix(language)
        encodings = self.tokenizer.encode_batch(
            [prefix + clean_text(t, self.canonicalize) for t in texts])
        return (np.asarray([e.ids for e in encodings], dtype=np.int32),
                np.asarray([e.attention_mask for e in encodings], dtype=np.int32))

    def __call__(self, texts: list[str]) -> NDArray[np.int32]:
        return self.encode(texts)[0]
