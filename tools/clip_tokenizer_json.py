"""Build a `tokenizers` tokenizer.json for CLIP's BPE from the vocabulary open_clip ships.

CLIP's tokenizer is byte-level BPE over a 49,408-entry vocabulary: 256 byte
symbols, the same with an end-of-word marker "</w>", 48,894 merges, and the
start/end tokens. The merges file (bpe_simple_vocab_16e6.txt.gz) is inside the
open-clip-torch wheel; this turns it into the single-file format that the
`tokenizers` library (and so the daemon) loads.

Usage: python tools/clip_tokenizer_json.py OUT_DIR   (writes tokenizer.json and
tokenizer_config.json)
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

START, END = "<|startoftext|>", "<|endoftext|>"
N_MERGES = 49152 - 256 - 2
# CLIP's pre-tokenisation: special tokens, English contractions, letter runs,
# single digits, and runs of anything else that is not space.
SPLIT = (r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"""
         r"""[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""")


def open_clip_vocab_file() -> Path:
    spec = importlib.util.find_spec("open_clip")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("open-clip-torch is not installed (pip install --no-deps open-clip-torch)")
    return Path(spec.submodule_search_locations[0]) / "bpe_simple_vocab_16e6.txt.gz"


def byte_symbols() -> list[str]:
    """The 256 printable stand-ins for bytes, in the order CLIP's vocabulary lists them.

    Printable Latin-1 bytes stand for themselves and come first; the other
    bytes follow, mapped in byte order to code points from 256 upwards.
    """
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    shifted = [b for b in range(256) if b not in keep]
    return [chr(b) for b in keep] + [chr(256 + i) for i in range(len(shifted))]


def build(vocab_file: Path) -> Tokenizer:
    with gzip.open(vocab_file, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [START, END]
    vocab = {token: index for index, token in enumerate(tokens)}
    bpe = models.BPE(vocab=vocab, merges=merges, unk_token=END, end_of_word_suffix="</w>",
                     continuing_subword_prefix="", fuse_unk=False)
    tokenizer = Tokenizer(bpe)
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase(),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{START} $A {END}", special_tokens=[(START, vocab[START]), (END, vocab[END])],
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([START, END])
    return tokenizer


def write(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    build(open_clip_vocab_file()).save(str(out_dir / "tokenizer.json"), pretty=False)
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": START, "eos_token": END, "pad_token": END, "unk_token": END,
        "model_max_length": 77, "do_lower_case": True,
    }, indent=2) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]))
