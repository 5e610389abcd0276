"""Small random-weight CLIP models in the exact layout of each family immich publishes.

What makes a family a family, for code that loads it, is not its weights but its files:
the graphs' input and output names and types, config.json (context length, the
canonicalize flag), preprocess_cfg.json (size, mean, std, interpolation, resize mode)
and the kind of tokenizer.json with its pad token. Each `Family` below writes those as
the published model has them, with a small vocabulary and a few thousand random weights,
so that a mistake in feeding any of them changes the numbers:

* the image graph keeps the layout of its patch grid (a transposed, mis-cropped or
  mis-normalised image gives another vector);
* the open_clip text graph averages over every position, pad tokens included (a wrong
  pad id or context length gives another vector), and sees its first positions one
  by one (a missing or extra leading token gives another vector);
* the M-CLIP text graph averages only where the attention mask is 1 (a missing or wrong
  mask gives another vector).

Facts about each family come from its published configs (open_clip's model_configs and
pretrained tags, immich's model list); sources are named in docs/models.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
HALF = [0.5, 0.5, 0.5]
WORDS = ["a", "photo", "of", "the", "red", "circle", "sunset", "beach", "palm", "trees",
         "dog", "cat", "un", "chat", "été", "à", "Paris", "paris", "don", "t", "stop",
         "fish", "chips", "amp", "Fish", "Chips", "straße", "sur", "la", "plage", "Hund",
         "am", "Strand", "mountains", "over", "snow", "東京", "夜"]
HEAD = 8
"""Text positions a text graph sees one by one, besides their mean."""
FLORES_TOKENS = ["eng_Latn", "fra_Latn", "deu_Latn", "por_Latn", "spa_Latn", "jpn_Jpan",
                 "zho_Hans", "zho_Hant"]


@dataclass(frozen=True)
class Family:
    name: str
    """The name immich publishes it under (the folder name in the layout)."""
    tokenizer: str
    """clip-bpe | t5-sentencepiece | gemma | xlm-roberta | nllb | bert"""
    pad_token: str
    preprocess: dict[str, object]
    embed_dim: int
    context_length: int | None = 77
    """None: config.json gives none, and 77 applies (open_clip's and immich's default)."""
    canonicalize: bool = False
    mclip: bool = False
    """M-CLIP text graphs take input_ids and attention_mask."""
    visual: str = "vit"
    patch: int = 32
    outputs: tuple[str, str] = ("embedding", "embedding")
    uses_language: bool = False
    extra_config: dict[str, object] = field(default_factory=dict)


def _pre(size: int, mean: list[float], std: list[float], resize_mode: str,
         interpolation: str = "bicubic") -> dict[str, object]:
    return {"size": [size, size], "mode": "RGB", "mean": mean, "std": std,
            "interpolation": interpolation, "resize_mode": resize_mode, "fill_color": 0}


FAMILIES = [
    Family("ViT-B-32__openai", "clip-bpe", "<|endoftext|>",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "shortest"), 512),
    Family("ViT-B-32__laion2b-s34b-b79k", "clip-bpe", "<|endoftext|>",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "shortest"), 512),
    Family("RN50__openai", "clip-bpe", "<|endoftext|>",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "shortest"), 1024, visual="resnet"),
    Family("ViT-H-14-quickgelu__dfn5b", "clip-bpe", "<|endoftext|>",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "squash"), 1024, patch=14),
    Family("ViT-B-16-SigLIP__webli", "t5-sentencepiece", "</s>",
           _pre(224, HALF, HALF, "squash"), 768, context_length=64, canonicalize=True,
           patch=16),
    Family("ViT-B-16-SigLIP2__webli", "gemma", "<pad>",
           _pre(224, HALF, HALF, "squash"), 768, context_length=64, canonicalize=True,
           patch=16),
    Family("XLM-Roberta-Large-Vit-B-32", "xlm-roberta", "<pad>",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "shortest"), 512, mclip=True),
    Family("LABSE-Vit-L-14", "bert", "[PAD]",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "shortest"), 768, mclip=True, patch=14),
    Family("XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k", "xlm-roberta", "<pad>",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "shortest"), 512, context_length=None),
    Family("nllb-clip-base-siglip__v1", "nllb", "<pad>",
           _pre(384, HALF, HALF, "squash"), 768, context_length=None, patch=16,
           uses_language=True),
    # The exports immich published first named their outputs after what they embed.
    Family("ViT-B-32__openai-older-export", "clip-bpe", "<|endoftext|>",
           _pre(224, OPENAI_MEAN, OPENAI_STD, "shortest"), 512,
           outputs=("image_embedding", "text_embedding")),
]


# ---------------------------------------------------------------- tokenizers
def _pieces(cased: bool) -> list[str]:
    words = WORDS if cased else sorted({w.lower() for w in WORDS})
    chars = sorted({c for w in WORDS for c in (w if cased else w.lower())}
                   | set("abcdefghijklmnopqrstuvwxyz0123456789"))
    return [f"▁{w}" for w in words] + chars + ["▁"]


def _unigram(specials: list[str], unk: str, cased: bool) -> Tokenizer:
    pieces = _pieces(cased)
    # Whole words score better than their letters, so words stay whole.
    vocab = [(s, 0.0) for s in specials] + [(p, -1.0 if len(p) > 1 else -2.0)
                                            for p in pieces]
    tok = Tokenizer(models.Unigram(vocab, unk_id=specials.index(unk), byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


def _gemma() -> Tokenizer:
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    vocab = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    merges: list[tuple[str, str]] = []
    for c in sorted(set("▁abcdefghijklmnopqrstuvwxyzPFCS")):
        vocab.setdefault(c, len(vocab))
    for word in ("▁" + w for w in WORDS if w.isascii()):
        built = word[0]
        for c in word[1:]:
            vocab.setdefault(c, len(vocab))
            if built + c not in vocab:
                merges.append((built, c))
                vocab[built + c] = len(vocab)
            built += c
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True,
                               fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", 2), ("<eos>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback()])
    tok.add_special_tokens(specials)
    return tok


def _bert() -> Tokenizer:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = [*WORDS, "##s", "##e", "##r", "##o", *list("abcdefghijklmnopqrstuvwxyz.,!?'&;")]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(specials + words))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=False, lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.add_special_tokens(specials)
    return tok


def build_tokenizer(kind: str, out_dir: Path) -> Tokenizer:
    """Write tokenizer.json (and the configs beside it) for one tokenizer kind."""
    if kind == "clip-bpe":
        from tools import clip_tokenizer_json

        clip_tokenizer_json.write(out_dir)
        return Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    if kind == "t5-sentencepiece":  # SigLIP: T5-style sentencepiece, ends with </s>
        tok = _unigram(["<pad>", "</s>", "<unk>"], "<unk>", cased=False)
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", special_tokens=[("</s>", 1)])
        tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    elif kind in ("xlm-roberta", "nllb"):  # cased sentencepiece, <s> ... </s>
        tok = _unigram(["<s>", "<pad>", "</s>", "<unk>"], "<unk>", cased=True)
        tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        if kind == "nllb":  # language codes are tokens; the source language leads
            tok.add_special_tokens(FLORES_TOKENS)
            tok.post_processor = processors.TemplateProcessing(
                single="eng_Latn $A </s>",
                special_tokens=[("eng_Latn", tok.token_to_id("eng_Latn")), ("</s>", 2)])
        else:
            tok.post_processor = processors.TemplateProcessing(
                single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    elif kind == "gemma":
        tok = _gemma()
    elif kind == "bert":
        tok = _bert()
    else:
        raise ValueError(kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"))
    return tok


# -------------------------------------------------------------------- graphs
def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="anagnorisisd-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def _weights(rng: np.random.Generator, name: str, *shape: int) -> onnx.TensorProto:
    scale = 1.0 / np.sqrt(np.prod(shape[1:]) if len(shape) > 1 else shape[0])
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32),
                                   name)


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def visual_graph(family: Family, path: Path, seed: int) -> None:
    """image (N x 3 x S x S float) -> patch grid -> tanh -> flatten -> projection."""
    rng = np.random.default_rng(seed)
    size = int(family.preprocess["size"][0])  # type: ignore[index]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])
    out = helper.make_tensor_value_info(family.outputs[0], TensorProto.FLOAT,
                                        ["batch", family.embed_dim])
    channels = 4
    if family.visual == "resnet":  # a stem, a max-pool and a strided stage, as ResNets
        grid = size // 32
        nodes = [
            helper.make_node("Conv", ["image", "w1"], ["c1"], kernel_shape=[7, 7],
                             strides=[2, 2], pads=[3, 3, 3, 3]),
            helper.make_node("Relu", ["c1"], ["r1"]),
            helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2],
                             pads=[1, 1, 1, 1]),
            helper.make_node("Conv", ["p1", "w2"], ["grid"], kernel_shape=[3, 3],
                             strides=[8, 8], pads=[1, 1, 1, 1]),
        ]
        inits = [_weights(rng, "w1", channels, 3, 7, 7),
                 _weights(rng, "w2", channels, channels, 3, 3)]
    else:  # a ViT's patch embedding
        grid = size // family.patch
        nodes = [helper.make_node("Conv", ["image", "w1"], ["grid"],
                                  kernel_shape=[family.patch] * 2, strides=[family.patch] * 2)]
        inits = [_weights(rng, "w1", channels, 3, family.patch, family.patch)]
    nodes += [helper.make_node("Tanh", ["grid"], ["t"]),
              helper.make_node("Flatten", ["t"], ["f"], axis=1),
              helper.make_node("MatMul", ["f", "proj"], [family.outputs[0]])]
    inits.append(_weights(rng, "proj", channels * grid * grid, family.embed_dim))
    _save(helper.make_graph(nodes, "visual", [image], [out], inits), path)


def textual_graph(family: Family, vocab_size: int, path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    length = family.context_length or 77
    width = 16
    out = helper.make_tensor_value_info(family.outputs[1], TensorProto.FLOAT,
                                        ["batch", family.embed_dim])
    ids_name = "input_ids" if family.mclip else "text"
    inputs = [helper.make_tensor_value_info(ids_name, TensorProto.INT32, ["batch", length])]
    inits = [_weights(rng, "table", vocab_size, width), _weights(rng, "pos", length, width),
             _weights(rng, "proj", width * (HEAD + 1), family.embed_dim),
             _ints("seq_axis", [1])]
    nodes = [helper.make_node("Cast", [ids_name], ["ids64"], to=TensorProto.INT64),
             helper.make_node("Gather", ["table", "ids64"], ["tokens"]),
             helper.make_node("Add", ["tokens", "pos"], ["placed"]),
             helper.make_node("Tanh", ["placed"], ["h"])]
    if family.mclip:  # mean over the real tokens only, as M-CLIP's pooling does
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT32,
                                                    ["batch", length]))
        inits.append(_ints("last_axis", [2]))
        nodes += [helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
                  helper.make_node("Unsqueeze", ["m", "last_axis"], ["m3"]),
                  helper.make_node("Mul", ["h", "m3"], ["hm"]),
                  helper.make_node("ReduceSum", ["hm", "seq_axis"], ["s"], keepdims=0),
                  helper.make_node("ReduceSum", ["m3", "seq_axis"], ["n"], keepdims=0),
                  helper.make_node("Div", ["s", "n"], ["pooled"])]
    else:  # every position, pads included
        nodes.append(helper.make_node("ReduceMean", ["h"], ["pooled"], axes=[1], keepdims=0))
    # Beside the pooled mean, the first few positions as they are: one token more or less
    # at the start (a language code) must move the vector as much as a pad token does.
    nodes += [helper.make_node("Slice", ["h", "zero", "head_len", "seq_axis"], ["head"]),
              helper.make_node("Flatten", ["head"], ["head_flat"], axis=1),
              helper.make_node("Concat", ["pooled", "head_flat"], ["features"], axis=1),
              helper.make_node("MatMul", ["features", "proj"], [family.outputs[1]])]
    inits += [_ints("zero", [0]), _ints("head_len", [HEAD])]
    _save(helper.make_graph(nodes, "textual", inputs, [out], inits), path)


# -------------------------------------------------------------------- layout
def build(family: Family, root: Path, seed: int = 0) -> Path:
    """Write `family` in its published layout under root/NAME; returns that folder."""
    folder = root / family.name
    text_cfg: dict[str, object] = {}
    if family.context_length is not None:
        text_cfg["context_length"] = family.context_length
    if family.canonicalize:
        text_cfg["tokenizer_kwargs"] = {"clean": "canonicalize"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(
        {"embed_dim": family.embed_dim, "vision_cfg": {"image_size": family.preprocess["size"]},
         "text_cfg": text_cfg, **family.extra_config}, indent=2))
    (folder / "visual").mkdir(exist_ok=True)
    (folder / "visual" / "preprocess_cfg.json").write_text(json.dumps(family.preprocess))
    visual_graph(family, folder / "visual" / "model.onnx", seed)
    tok = build_tokenizer(family.tokenizer, folder / "textual")
    (folder / "textual" / "tokenizer_config.json").write_text(json.dumps(
        {"pad_token": family.pad_token,
         "model_max_length": family.context_length or 77}, indent=2))
    (folder / "textual" / "special_tokens_map.json").write_text(json.dumps(
        {"pad_token": family.pad_token}))
    textual_graph(family, tok.get_vocab_size(with_added_tokens=True),
                  folder / "textual" / "model.onnx", seed + 1)
    return folder
