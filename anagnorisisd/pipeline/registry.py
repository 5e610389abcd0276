"""Finding stage plugins and assembling the ordered stage list from config.

This is the one assembly point: config names stages, entry points provide
them, and whatever cannot be loaded is reported instead of raised, so a broken
third-party plugin costs its own stage and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from anagnorisisd.config import Config, ConfigError, validate_stage_section
from anagnorisisd.stage import Stage, StageContext

ENTRY_POINT_GROUP = "anagnorisisd.stages"
log = logging.getLogger(__name__)


@dataclass
class Assembly:
    """The stages that will run, in order, and why any configured one will not."""

    stages: list[Stage] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def versions(self) -> dict[str, str]:
        return {s.name: s.version for s in self.stages}

    def get(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def provider(self, kind: str) -> str | None:
        """The name of the first running stage that provides `kind` (see Stage.provides)."""
        return next((s.name for s in self.stages if kind in s.provides), None)


_REGISTERED: dict[str, EntryPoint] = {}


def register_stage(name: str, value: str) -> None:
    """Make a stage available in this process without an installed distribution, exactly as
    its entry point would (`value` is "module:Class"): how a test registers a stage."""
    _REGISTERED[name] = EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def available_stage_classes() -> dict[str, Any]:
    """Entry points by name, not yet loaded (loading may fail; that is assembly's business)."""
    return {**{ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}, **_REGISTERED}


def check_stage_config(config: Config) -> None:
    """Raise ConfigError for any mistake in [pipeline] stages or a [stages.NAME] section,
    without starting a stage: what a command that only asks the daemon checks first, so a
    typo in the file is said even while a daemon with an older config answers."""
    found = available_stage_classes()
    for name in config.stages:
        if name not in config.pipeline.stages and name not in found:
            raise ConfigError(f"{config.source}: [stages.{name}] configures a stage that is "
                              "not installed")
    seen: set[str] = set()
    for name in config.pipeline.stages:
        if name in seen:
            raise ConfigError(f"{config.source}: [pipeline] stages lists '{name}' twice")
        seen.add(name)
        if name in found:
            try:
                cls = found[name].load()
            except Exception:  # said by assemble, as the stage's own problem
                continue
            validate_stage_section(name, config.stage_section(name),
                                   dict(cls.config_schema), config.source)


def assemble(config: Config, context: StageContext | None = None) -> Assembly:
    """Build the ordered stages. Config errors raise; plugin failures are recorded."""
    check_stage_config(config)
    assembly = Assembly()
    context = context or StageContext(config)
    found = available_stage_classes()
    for name in config.pipeline.stages:
        if name not in found:
            assembly.problems[name] = f"stage '{name}' is not installed (no entry point)"
            continue
        try:
            cls = found[name].load()
        except Exception as exc:  # a plugin's import error must not stop the daemon
            assembly.problems[name] = f"failed to load: {type(exc).__name__}: {exc}"
            log.error("stage %s failed to load: %s", name, exc)
            continue
        section = validate_stage_section(name, config.stage_section(name),
                                         dict(cls.config_schema), config.source)
        if not section["enabled"]:
            assembly.disabled.append(name)
            continue
        missing = [r for r in cls.requires if assembly.get(r) is None]
        if missing:
            assembly.problems[name] = f"needs stage(s) {', '.join(missing)} earlier in the pipeline"
            continue
        try:
            stage = cls(section, context)
        except ConfigError:
            raise
        except Exception as exc:
            assembly.problems[name] = f"failed to start: {type(exc).__name__}: {exc}"
            log.error("stage %s failed to start: %s", name, exc)
            continue
        assembly.stages.append(stage)
    keyed = [s.name for s in assembly.stages if s.keys_content]
    if assembly.stages and (len(keyed) != 1 or not assembly.stages[0].keys_content):
        assembly.problems["pipeline"] = (
            "the pipeline must start with exactly one content-hashing stage (e.g. 'hash'); "
            "nothing will be processed"
        )
        assembly.stages = []
    return assembly
