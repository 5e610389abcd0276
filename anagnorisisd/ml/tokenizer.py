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
# The language codes immich's clients send (Weblate's) to FLORES-200 codes, for tokenizers
# (NLLB's) that take the language as a leading token. Following immich's machine-learning
# service, a code with a region falls back to its language ("fr-CA" -> "fr") and an unknown
# one to English. One deliberate difference: Japanese maps to jpn_Jpan, the FLORES-200
# code NLLB's vocabulary has, where immich sends "jpn_Hira", which is not one.
FLORES = {
    "af": "afr_Latn", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl", "bg": "bul_Cyrl",
    "ca": "cat_Latn", "cs": "ces_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek",
    "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn", "fa": "pes_Arab", "fi": "fin_Latn",
    "fr": "fra_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn",
    "hy": "hye_Armn", "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "kmr": "kmr_Latn",
    "ko": "kor_Hang", "lb": "ltz_Latn", "lt": "lit_Latn", "lv": "lav_Latn", "mfa": "zsm_Latn",
    "mk": "mkd_Cyrl", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "nb-NO": "nob_Latn",
    "nn": "nno_Latn", "nl": "nld_Latn", "pl": "pol_Latn", "pt-BR": "por_Latn", "pt": "por_Latn",
    "ro": "ron_Latn", "ru": "rus_Cyrl", "sk": "slk_Latn", "sl": "slv_Latn", "sr-Cyrl": "srp_Cyrl",
    "sv": "swe_Latn", "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tr": "tur_Latn",
    "uk": "ukr_Cyrl", "ur": "urd_Arab", "vi": "vie_Latn", "zh-CN": "zho_Hans",
    "zh-Hans": "zho_Hans", "zh-TW": "zho_Hant",
}
ENGLISH = "eng_Latn"


def flores_code(language: str) -> str:
    """'fr', 'fr-CA' or 'fra_Latn' -> 'fra_Latn'; an unknown code -> English, as immich."""
    if "_" in language:
        return language
    return FLORES.get(language) or FLORES.get(language.split("-")[0].lower(), ENGLISH)


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
        if not language or self.tokenizer.token_to_id(ENGLISH) is None:
            return ""
        code = flores_code(language)
        return code if self.tokenizer.token_to_id(code) is not None else ENGLISH

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
