"""Graph variants immich runs as they are: older output names, M-CLIP-style text inputs; and a
broken model refused at import with its reason. Built from the shipped model with onnx."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from anagnorisisd.ml.clip import ClipModel
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.ml.session import SessionSettings
from tests.helpers import run_cli, write_config

CPU = SessionSettings(("CPUExecutionProvider",))


def copy_model(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(shipped_model_dir("shapes-clip-mini"), target)
    return target


def rename_output(graph_file: Path, new: str) -> None:
    model = onnx.load(graph_file)
    old = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [new if o == old else o for o in node.output]
    model.graph.output[0].name = new
    onnx.save(model, graph_file)


def mclip_style_text(graph_file: Path) -> None:
    """Rename the text input to input_ids and add an attention_mask input that the graph
    really consumes (ids + mask * 0: the same numbers, so embeddings can be compared)."""
    model = onnx.load(graph_file)
    old = model.graph.input[0]
    old_name = old.name
    old.name = "input_ids"
    mask = helper.make_tensor_value_info("attention_mask", old.type.tensor_type.elem_type,
                                         [d.dim_param or d.dim_value
                                          for d in old.type.tensor_type.shape.dim])
    model.graph.input.append(mask)
    zero = helper.make_tensor("zero", old.type.tensor_type.elem_type, [], [0])
    model.graph.initializer.append(zero)
    model.graph.node.insert(0, helper.make_node("Mul", ["attention_mask", "zero"], ["masked0"]))
    model.graph.node.insert(1, helper.make_node("Add", ["input_ids", "masked0"], [old_name]))
    onnx.checker.check_model(model)
    onnx.save(model, graph_file)


def test_older_output_names_and_mclip_inputs_give_the_same_embeddings(tmp_path: Path) -> None:
    reference = ClipModel(ModelFiles("ref", shipped_model_dir("shapes-clip-mini")), CPU)
    variant_dir = copy_model(tmp_path, "variant")
    rename_output(variant_dir / "visual" / "model.onnx", "image_embedding")
    rename_output(variant_dir / "textual" / "model.onnx", "text_embedding")
    mclip_style_text(variant_dir / "textual" / "model.onnx")
    variant = ClipModel(ModelFiles("variant", variant_dir), CPU)
    image = reference.preprocess(__import__("PIL.Image").Image.new("RGB", (64, 48), "red"))
    assert np.allclose(variant.embed_images(image[None]), reference.embed_images(image[None]),
                       atol=1e-6)
    texts = ["a red circle", "a blue square on green"]
    assert np.allclose(variant.embed_texts(texts), reference.embed_texts(texts), atol=1e-6)
    assert variant.textual.input_name == "input_ids"
    assert variant.textual.extra_inputs == ["attention_mask"]


def test_import_runs_both_graphs_and_refuses_a_broken_model(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", {
        "storage": {"data_dir": str(tmp_path / "data")}, "server": {"port": 1}})
    good = copy_model(tmp_path, "good")
    result = run_cli("model", "import", str(good), "--config", str(config))
    assert result.returncode == 0, result.stderr
    wrong_dim = copy_model(tmp_path, "wrong-dim")
    cfg = (wrong_dim / "config.json").read_text()
    import json

    doc = json.loads(cfg)
    doc["embed_dim"] = doc["embed_dim"] * 2
    (wrong_dim / "config.json").write_text(json.dumps(doc))
    result = run_cli("model", "import", str(wrong_dim), "--config", str(config))
    assert result.returncode == 2 and "expected (1," in result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if " INFO " not in line]
    assert len(errors) == 1, errors  # one line with the reason (beside the INFO provider line)
    strange = copy_model(tmp_path, "strange-input")
    model = onnx.load(strange / "textual" / "model.onnx")
    model.graph.input[0].name = "tokens"
    for node in model.graph.node:
        node.input[:] = ["tokens" if i == "text" else i for i in node.input]
    onnx.save(model, strange / "textual" / "model.onnx")
    result = run_cli("model", "import", str(strange), "--config", str(config))
    assert result.returncode == 2 and "expected one of" in result.stderr
    assert not (tmp_path / "data" / "models" / "strange-input").exists()


def test_no_red_provider_error_on_a_machine_without_cuda(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from anagnorisisd.ml.providers import why_not

    if why_not("CUDAExecutionProvider") is None:
        pytest.skip("this machine can run CUDA; nothing to hide")
    data = tmp_path / "data"
    shutil.copytree(shipped_model_dir("shapes-clip-mini"), data / "models" / "shapes-clip-mini")
    (tmp_path / "lib").mkdir()
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(tmp_path / "lib")]}, "storage": {"data_dir": str(data)},
        "server": {"port": 1}, "model": {"name": "shapes-clip-mini", "auto_pull": False}})
    result = run_cli("index", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Failed to load library" not in result.stderr and "\x1b[1;31m" not in result.stderr
    assert "runs models on CPUExecutionProvider" in result.stderr


def test_a_language_is_prefixed_only_for_tokenizers_that_know_it(tmp_path: Path) -> None:
    """NLLB-style tokenizers carry FLORES-200 codes as tokens; immich puts the code before
    the query. A tokenizer without such tokens (CLIP's BPE) ignores the language."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers

    from anagnorisisd.ml.tokenizer import ClipTokenizer
    from anagnorisisd.search.query import QueryError
    from tests.helpers import parse

    vocab = {"<pad>": 0, "<unk>": 1, "un": 2, "chat": 3, "a": 4, "cat": 5}
    built = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    built.pre_tokenizer = pre_tokenizers.Whitespace()
    built.add_special_tokens(["eng_Latn", "fra_Latn", "por_Latn"])
    root = copy_model(tmp_path, "nllb-like")
    built.save(str(root / "textual" / "tokenizer.json"))
    (root / "textual" / "tokenizer_config.json").write_text(json.dumps({"pad_token": "<pad>"}))
    nllb = ClipTokenizer(ModelFiles("nllb-like", root))
    plain, _ = nllb.encode(["un chat"])
    french, mask = nllb.encode(["un chat"], "fr")
    brazil, _ = nllb.encode(["un chat"], "pt-BR")
    assert french[0][0] == built.token_to_id("fra_Latn") and brazil[0][0] == built.token_to_id(
        "por_Latn")
    assert french[0][1:3].tolist() == plain[0][:2].tolist() and mask[0][:3].tolist() == [1, 1, 1]
    assert nllb.encode(["un chat"], "fra_Latn")[0].tolist() == french.tolist()
    english = nllb.encode(["un chat"], "en")[0]
    assert english[0][0] == built.token_to_id("eng_Latn")
    assert nllb.encode(["un chat"], "xx")[0].tolist() == english.tolist()  # unknown: English

    clip = ClipTokenizer(ModelFiles("mini", shipped_model_dir("shapes-clip-mini")))
    assert clip.encode(["a cat"], "fr")[0].tolist() == clip.encode(["a cat"])[0].tolist()

    assert parse("un chat lang:fr").language == "fr"
    assert parse("un chat lang:fra_Latn").text == "un chat"
    with pytest.raises(QueryError, match="language code"):
        parse("chat lang:français!")
