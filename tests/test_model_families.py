"""Every CLIP family immich publishes, run here as immich runs it.

For each family a small random-weight model is built in its published layout
(tests/model_families.py), installed with `model import`, and used by a real
daemon to index photos and answer text queries. Its stored image vectors, its
query scores and its token ids are compared with a reference of immich's
machine-learning service written below from immich's published behaviour, not
from this project's code: decode to RGB; "shortest" (resize the short side with
the configured filter, centre-crop) or "squash" (resize to a square) as
preprocess_cfg.json says; scale, normalise; one image at a time through the
graph's first output. Text: collapse white space; drop punctuation and lower-case
only for configs that say clean = canonicalize; put the FLORES code before the
text for NLLB models; pad with the pad token to the context length; feed "text",
or input_ids and attention_mask for M-CLIP.
"""

from __future__ import annotations

import json
import string
import urllib.parse
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image, ImageOps
from tokenizers import Tokenizer

from anagnorisisd.ml.clip import ClipModel
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.session import SessionSettings
from anagnorisisd.store.database import Store
from tests.helpers import Daemon, free_port, make_photo, run_cli, wait_until, write_config
from tests.model_families import FAMILIES, Family, build

IMMICH_LANGUAGES = {"fr": "fra_Latn", "de": "deu_Latn", "pt-BR": "por_Latn", "en": "eng_Latn"}
MCLIP_NAMES = {"LABSE-Vit-L-14", "XLM-Roberta-Large-Vit-B-32",
               "XLM-Roberta-Large-Vit-B-16Plus", "XLM-Roberta-Large-Vit-L-14"}
QUERIES = [("a photo of a dog", None), ("Sunset, beach & palm-trees!", None),
           ("  Fish &amp; Chips  ", None), ("un chat sur la plage", "fr"),
           ("Hund am Strand", "de-AT"), ("été à Paris", "pt-BR"), ("snow", "xx")]
STRINGS = ["sunset, beach & palm-trees!", "don't stop", "Fish &amp; Chips", "ÜNÏCÖDE Straße",
           "  Multiple   spaces\tand\nlines ", "C'EST LA VIE!!!", "", "東京の夜",
           " ".join(["photo"] * 120)]


# --------------------------------------------------- immich's behaviour, restated
def immich_image_input(preprocess: dict, path: Path) -> np.ndarray:
    img = ImageOps.exif_transpose(Image.open(path))  # immich is sent an upright preview
    img.load()
    img = img if img.mode == "RGB" else img.convert("RGB")
    size = preprocess["size"][0] if isinstance(preprocess["size"], list) else preprocess["size"]
    resample = {r.name.lower(): r for r in Image.Resampling}[preprocess["interpolation"]]
    if preprocess.get("resize_mode", "shortest") == "squash":
        img = img.resize((size, size), resample=resample)
    else:
        w, h = img.size
        new = (size, int(h / w * size)) if w < h else (int(w / h * size), size)
        img = img.resize(new, resample=resample)
        left, top = int(new[0] / 2 - size / 2), int(new[1] / 2 - size / 2)
        img = img.crop((left, top, left + size, top + size))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    mean = np.asarray(preprocess["mean"], dtype=np.float32)
    std = np.asarray(preprocess["std"], dtype=np.float32)
    return ((arr - mean) / std).transpose(2, 0, 1)[None]


def immich_token_inputs(root: Path, name: str, text: str,
                        language: str | None) -> dict[str, np.ndarray]:
    config = json.loads((root / "config.json").read_text())
    pad = json.loads((root / "textual" / "tokenizer_config.json").read_text())["pad_token"]
    length = config["text_cfg"].get("context_length", 77)
    tok = Tokenizer.from_file(str(root / "textual" / "tokenizer.json"))
    tok.enable_padding(length=length, pad_token=pad, pad_id=tok.token_to_id(pad))
    tok.enable_truncation(max_length=length)
    text = " ".join(text.split())
    if (config["text_cfg"].get("tokenizer_kwargs") or {}).get("clean") == "canonicalize":
        text = text.translate(str.maketrans("", "", string.punctuation)).lower()
    if name.startswith("nllb") and language is not None:
        code = (IMMICH_LANGUAGES.get(language) or IMMICH_LANGUAGES.get(language.split("-")[0])
                or "eng_Latn")
        text = f"{code}{text}"
    encoding = tok.encode(text)
    if name in MCLIP_NAMES:
        return {"input_ids": np.array([encoding.ids], dtype=np.int32),
                "attention_mask": np.array([encoding.attention_mask], dtype=np.int32)}
    return {"text": np.array([encoding.ids], dtype=np.int32)}


def first_output(graph: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    vector = np.asarray(session.run(None, inputs)[0][0], dtype=np.float32)
    return vector / np.linalg.norm(vector)


# --------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A landscape JPEG turned by EXIF, a portrait PNG and an odd-sized greyscale JPEG."""
    d = tmp_path_factory.mktemp("family-photos")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = [make_photo(d / "turned.jpg", 1200, 800, seed=7, exif=exif),
           make_photo(d / "portrait.png", 333, 517, seed=8)]
    Image.open(make_photo(d / "tmp.jpg", 701, 299, seed=9)).convert("L").save(d / "grey.jpg")
    (d / "tmp.jpg").unlink()
    return [*out, d / "grey.jpg"]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_family_runs_through_import_and_the_daemon_as_immich_runs_it(
        family: Family, photos: list[Path], tmp_path: Path) -> None:
    source = build(family, tmp_path / "built", seed=len(family.name))
    data = tmp_path / "data"
    library = tmp_path / "library"
    library.mkdir()
    for photo in photos:
        (library / photo.name).write_bytes(photo.read_bytes())
    port = free_port()
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(data)},
        "server": {"port": port}, "model": {"name": family.name, "auto_pull": False,
                                                 "exact_decode": True},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0}})
    imported = run_cli("model", "import", str(source), "--config", str(config))
    assert imported.returncode == 0, imported.stderr
    installed = data / "models" / family.name

    # The reference: immich's behaviour on the imported files.
    pre = json.loads((installed / "visual" / "preprocess_cfg.json").read_text())
    images = {str(library / p.name): first_output(installed / "visual" / "model.onnx",
                                                  {"image": immich_image_input(pre, p)})
              for p in photos}
    texts = {q: first_output(installed / "textual" / "model.onnx",
                             immich_token_inputs(installed, family.name, *q)) for q in QUERIES}

    daemon = Daemon(config, port)
    try:
        wait_until(lambda: daemon.status()["stages"]["clip"]["done"] == len(photos), timeout=60)
        wait_until(lambda: daemon.status()["index"]["items"] == len(photos), timeout=30)
        for (text, language), vector in texts.items():
            q = text + (f" lang:{language}" if language else "")
            found = daemon.request("GET", "/api/images?" + urllib.parse.urlencode({"q": q}))
            scores = {item["path"]: item["score"] for item in found["items"]}
            assert set(scores) == set(images), (q, found)
            for path, score in scores.items():
                assert score == pytest.approx(float(vector @ images[path]), abs=2e-3), (q, path)
    finally:
        assert daemon.stop() == 0

    store = Store(data, readonly=True)
    try:
        for path, reference in images.items():
            record = store.get_file(path)
            assert record is not None and record.hash is not None
            stored = store.get_result(record.hash, "clip")
            assert stored is not None, path
            vector = np.frombuffer(stored["embedding"], dtype=np.float16).astype(np.float32)
            assert cosine(vector, reference) >= 0.9999, (path, cosine(vector, reference))
    finally:
        store.close()

    # The default, faster decoding (JPEGs at libjpeg's reduced scales) stays close: these
    # graphs project raw patches, so they are more sensitive to it than real encoders.
    model = ClipModel(ModelFiles(family.name, installed),
                      SessionSettings(("CPUExecutionProvider",)))
    assert model.preprocess.draft
    drafted = model.embed_images(np.stack([model.preprocess.load(p) for p in images]))
    for path, vector in zip(images, drafted, strict=True):
        assert cosine(vector, images[path]) >= 0.999, path

    # Text: the same ids token for token, and the same vectors, as the daemon's model has.
    for text, language in [*QUERIES, *((s, None) for s in STRINGS)]:
        want = immich_token_inputs(installed, family.name, text, language)
        ids, mask = model.tokenizer.encode([text], language)
        ids_name = "input_ids" if family.mclip else "text"
        assert ids.tolist() == want[ids_name].tolist(), (text, language)
        if family.mclip:
            assert mask.tolist() == want["attention_mask"].tolist(), text
    for (text, language), reference in texts.items():
        ours = model.embed_text(text, language)
        assert cosine(ours, reference) >= 0.9999, (text, language)


def test_the_reference_tells_families_apart(photos: list[Path], tmp_path: Path) -> None:
    """The checks above could not pass by accident: feeding a family the way another is fed
    (the wrong resize mode, pad token, mask or language) changes the vectors."""
    siglip = next(f for f in FAMILIES if f.name == "ViT-B-16-SigLIP__webli")
    root = build(siglip, tmp_path)
    pre = json.loads((root / "visual" / "preprocess_cfg.json").read_text())
    squash = first_output(root / "visual" / "model.onnx",
                          {"image": immich_image_input(pre, photos[0])})
    crop = first_output(root / "visual" / "model.onnx", {"image": immich_image_input(
        {**pre, "resize_mode": "shortest"}, photos[0])})
    assert cosine(squash, crop) < 0.999

    mclip = next(f for f in FAMILIES if f.mclip)
    root = build(mclip, tmp_path)
    inputs = immich_token_inputs(root, mclip.name, "a photo of a dog", None)
    masked = first_output(root / "textual" / "model.onnx", inputs)
    unmasked = first_output(root / "textual" / "model.onnx",
                            {**inputs, "attention_mask": np.ones_like(inputs["attention_mask"])})
    assert cosine(masked, unmasked) < 0.999

    nllb = next(f for f in FAMILIES if f.uses_language)
    root = build(nllb, tmp_path)
    french = first_output(root / "textual" / "model.onnx",
                          immich_token_inputs(root, nllb.name, "un chat", "fr"))
    none = first_output(root / "textual" / "model.onnx",
                        immich_token_inputs(root, nllb.name, "un chat", None))
    assert cosine(french, none) < 0.999

    clip = next(f for f in FAMILIES if f.tokenizer == "clip-bpe")
    root = build(clip, tmp_path)
    inputs = immich_token_inputs(root, clip.name, "a photo of a dog", None)
    padded_zero = np.where(inputs["text"] == 49407, 0, inputs["text"])
    padded_zero[0, int(np.argmax(inputs["text"][0] == 49407))] = 49407  # keep the end token
    assert cosine(first_output(root / "textual" / "model.onnx", inputs),
                  first_output(root / "textual" / "model.onnx", {"text": padded_zero})) < 0.999


def test_config_keys_follow_the_published_configs() -> None:
    """What the families above assume, checked against open_clip's own config files (the
    source immich exports from) where the package ships them."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("open-clip-torch is not installed")
    configs = Path(spec.submodule_search_locations[0]) / "model_configs"
    for family, config in [("ViT-B-16-SigLIP__webli", "ViT-B-16-SigLIP"),
                           ("ViT-B-16-SigLIP2__webli", "ViT-B-16-SigLIP2"),
                           ("ViT-B-32__openai", "ViT-B-32"),
                           ("ViT-H-14-quickgelu__dfn5b", "ViT-H-14-quickgelu"),
                           ("RN50__openai", "RN50"),
                           ("XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k",
                            "xlm-roberta-base-ViT-B-32"),
                           ("nllb-clip-base-siglip__v1", "nllb-clip-base-siglip")]:
        published = json.loads((configs / f"{config}.json").read_text())
        ours = next(f for f in FAMILIES if f.name == family)
        text_cfg = published["text_cfg"]
        assert (ours.context_length or 77) == text_cfg.get("context_length", 77), family
        assert ours.canonicalize == ((text_cfg.get("tokenizer_kwargs") or {}).get("clean")
                                     == "canonicalize"), family
        assert ours.embed_dim == published["embed_dim"], family
