"""Every hook of the Stage contract carries a docstring and is documented for plugin authors."""

from __future__ import annotations

import inspect
from pathlib import Path

from anagnorisisd import stage as stage_module
from anagnorisisd.stage import Stage

DOC = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
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
