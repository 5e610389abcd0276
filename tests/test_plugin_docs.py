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
    for name in ("StageInput", "StageOutput", "StageSkip"):
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


def test_every_route_is_in_the_openapi_document_and_the_readme() -> None:
    from anagnorisisd.http.openapi import SPEC

    readme = (REPO / "README.md").read_text()
    for path, operations in SPEC["paths"].items():
        assert f"`{path}" in readme, f"README's API table lacks {path}"
        for method in operations:
            assert method.upper() in readme
