"""Every hook of the Stage contract carries a docstring and is documented for plugin authors."""

from __future__ import annotations

import inspect
from pathlib import Path

from anagnorisisd import stage as stage_module
from anagnorisisd.stage import Stage

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "plugins.md").read_text()
HOOKS = [name for name in vars(Stage) if not name.startswith("_") or name == "__init__"]


def test_every_hook_is_documented_in_plugins_md() -> None:
    assert {"name", "version", "requires", "process", "close"} <= set(HOOKS)
    for name in HOOKS:
        assert f"`{name}" in DOC, f"docs/plugins.md does not document Stage.{name}"


def test_every_hook_has_a_docstring() -> None:
    source = inspect.getsource(Stage)
    for name in HOOKS:
        member = vars(Stage)[name]
        if callable(member):
            assert inspect.getdoc(member), f"Stage.{name} has no docstring"
        else:  # attributes are documented by the string literal under them
            assert f'{name}' in source and '"""' in source.split(name, 1)[1].split("\n", 2)[1]


def test_every_public_name_of_the_contract_is_documented() -> None:
    for name in ("StageInput", "StageOutput", "StageSkip", "PixelNeed", "PixelSource"):
        assert inspect.getdoc(getattr(stage_module, name))
        assert f"`{name}" in DOC


def test_every_callable_hook_is_documented_with_its_signature() -> None:
    for name in HOOKS:
        member = vars(Stage)[name]
        if not callable(member):
            continue
        params = [p for p in inspect.signature(member).parameters if p != "self"]
        assert f"`{name}({', '.join(params)})`" in DOC, (
            f"docs/plugins.md should show Stage.{name} as `{name}({', '.join(params)})`")


def test_config_toml_documents_exactly_the_config_keys() -> None:
    import dataclasses
    import tomllib

    from anagnorisisd.config import SECTIONS, build_config
    from anagnorisisd.pipeline.registry import available_stage_classes

    text = (REPO / "config.toml").read_text()
    raw = tomllib.loads(text)
    build_config(raw, "config.toml")  # every key in it is a real one, of the right type
    for section, schema in SECTIONS.items():
        keys = {f.name for f in dataclasses.fields(schema)}
        assert set(raw.get(section, {})) == keys, (section, keys ^ set(raw.get(section, {})))
    for name, entry_point in available_stage_classes().items():
        if not entry_point.value.startswith("anagnorisisd.builtin"):
            continue
        declared = set(entry_point.load().config_schema) | {"enabled"}
        assert set(raw["stages"][name]) == declared, (name, declared ^ set(raw["stages"][name]))


def built_in_document(tmp_path: Path) -> dict[str, object]:
    """The OpenAPI document of a library with every built-in feature: the core's paths
    and each feature's routes."""
    from anagnorisisd.app.library import Library
    from anagnorisisd.config import build_config
    from anagnorisisd.http.openapi import document

    library = Library(build_config({"storage": {"data_dir": str(tmp_path / "data")},
                                    "model": {"auto_pull": False}}), watch=False,
                      eager_model=False)
    try:
        return document(library.features.routes())
    finally:
        library.stop()


def test_every_route_is_in_the_openapi_document_and_the_readme(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    paths = built_in_document(tmp_path)["paths"]
    assert isinstance(paths, dict)
    for path, operations in paths.items():
        assert f"`{path}" in readme, f"README's API table lacks {path}"
        for method in operations:
            assert method.upper() in readme


def test_plugins_md_names_every_built_in_stage_and_output_kind() -> None:
    from anagnorisisd.pipeline.registry import available_stage_classes

    intro = DOC[: DOC.index("## The contract")]
    provides = DOC[DOC.index("- `provides`"): DOC.index("- `config_schema`")]
    for name, entry in available_stage_classes().items():
        if not entry.value.startswith("anagnorisisd.builtin"):
            continue
        assert f"`{name}`" in intro, f"docs/plugins.md's opening does not name {name}"
        for kind in entry.load().provides:
            assert f'`"{kind}"`' in provides, f"docs/plugins.md does not name the kind {kind}"


# ------------------------------------------------- the docs hold what the code does
def documented_stages() -> dict[str, dict[str, object]]:
    """docs/plugins.md's table of built-in stages: version, provides and output keys."""
    import re

    rows: dict[str, dict[str, object]] = {}
    for line in DOC.splitlines():
        match = re.match(r"\| `(\w+)` \| `([^`]+)` \| (.+?) \| `(\{.*?\})`", line)
        if match:
            name, version, provides, output = match.groups()
            rows[name] = {"version": version, "provides": re.findall(r"`(\w+)`", provides),
                          "keys": set(re.findall(r'"(\w+)":', output))}
    return rows


def test_every_built_in_stage_output_is_the_documented_one(tmp_path: Path) -> None:
    """Each built-in stage runs on a real photo; its stored output has exactly the keys the
    table names, and its version and what it provides are the ones shown."""
    import re
    import shutil

    from anagnorisisd.config import build_config
    from anagnorisisd.ingest.scanner import scan
    from anagnorisisd.ml.manager import shipped_model_dir
    from anagnorisisd.pipeline.registry import assemble
    from anagnorisisd.pipeline.runner import Pipeline
    from anagnorisisd.stage import StageContext
    from anagnorisisd.store.database import Store
    from tests.helpers import make_photo

    library = tmp_path / "library"
    photo = make_photo(library / "one.jpg", 640, 480, seed=1)
    shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                    tmp_path / "data" / "models" / "shapes-clip-mini")
    from tools.face_layout import write_face_model

    write_face_model(tmp_path / "data" / "models" / "facial-recognition" / "buffalo_l",
                     score_bias=0.0)
    config = build_config({"library": {"paths": [str(library)]},
                           "storage": {"data_dir": str(tmp_path / "data")},
                           "model": {"name": "shapes-clip-mini", "auto_pull": False}})
    from anagnorisisd.ml.service import ModelService

    models = ModelService(config, auto_pull=False)
    assert models.load()
    assembly = assemble(config, StageContext(config, models))
    documented = documented_stages()
    assert set(documented) == set(assembly.names()) == set(config.pipeline.stages)
    store = Store(config.data_dir)
    try:
        scan(store, [str(library)], config.library.extensions)
        assert Pipeline(store, assembly).run_sequential() == 1
        record = store.get_file(str(photo))
        assert record is not None and record.hash is not None
        for stage in assembly.stages:
            doc = documented[stage.name]
            pattern = re.escape(str(doc["version"])).replace("SIZE", r"\d+").replace(
                "FORMAT", r"\w+").replace("QUALITY", r"\d+").replace("MODEL", r".+").replace(
                "EYES", r"(\+.+)?")
            assert re.fullmatch(pattern, stage.version), (stage.name, stage.version)
            assert list(stage.provides) == [p for p in doc["provides"]], stage.name
            if stage.keys_content:
                continue  # the hash stage's output becomes the file record
            output = store.get_result(record.hash, stage.name)
            assert output is not None and set(output) == doc["keys"], (
                stage.name, set(output or {}) ^ set(doc["keys"]))  # type: ignore[arg-type]
    finally:
        store.close()
    readme = (REPO / "README.md").read_text()
    for name, doc in documented.items():
        assert f"`{name}`" in readme, f"the README does not name the {name} stage"
        for kind in doc["provides"]:  # type: ignore[attr-defined]
            assert f"`{kind}`" in readme, f"the README does not say what {name} provides"


def test_every_path_the_docs_point_to_exists() -> None:
    """A file named in the README or docs/ (anagnorisisd/…, plugins/…, tests/…) is there."""
    import re

    for doc in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        # a repository path, not a user's (~/.config/anagnorisisd/config.toml)
        for path in re.findall(r"(?<![\w/$.~-])((?:anagnorisisd|plugins|tests|bench|tools|"
                               r"web_ui|systemd)/[\w./-]+\.(?:py|js|css|html|service|toml|"
                               r"json))", doc.read_text()):
            assert (REPO / path).exists(), f"{doc.name} points to {path}, which is not there"


def test_the_readme_lists_every_error_status_the_api_answers() -> None:
    from anagnorisisd.http.schemas import ERROR_TEXT

    readme = (REPO / "README.md").read_text()
    sentence = readme[readme.index("Every error is JSON with a"):][:1000]
    for code in [*ERROR_TEXT, 405]:
        assert str(code) in sentence, f"the README's error list omits {code}"


def test_the_query_docs_name_every_format_word_the_parser_knows() -> None:
    from anagnorisisd.search.core_words import FORMAT_NAMES

    doc = (REPO / "docs" / "query.md").read_text()
    for word in {*FORMAT_NAMES, *FORMAT_NAMES.values()} - {"jpe", "hif", "jpegxl"}:
        assert f"`{word}`" in doc, f"docs/query.md does not name the format {word}"
    for name in ("heif", "avif", "jxl"):
        assert f"`{name}`" in doc
