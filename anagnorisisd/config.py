"""Configuration: one typed schema, one loader, one-line errors.

The schema is a set of frozen dataclasses so that every key has a type, a
default and a docstring-visible home. The loader is strict on purpose: a typo
in a config key silently falling back to a default is the kind of bug a user
only discovers weeks later, so unknown keys and wrong types are fatal, with a
message that names the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "ANAGNORISISD_"
DEFAULT_EXTENSIONS = [
    ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",  # Pillow
    ".heic", ".heif", ".avif", ".jxl",  # phones and the web (pillow-heif, pillow-jxl-plugin)
    ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef",
    ".srw",  # camera RAW (rawpy/LibRaw)
    ".mp4", ".mov", ".m4v", ".3gp", ".mkv", ".webm", ".avi",  # video (PyAV/FFmpeg)
]


class ConfigError(Exception):
    """A problem with the user's configuration, phrased as one line for a human."""


def one_of(default: Any, *choices: Any) -> Any:
    """A field whose value must be one of a few words (a typo is an error, not a default)."""
    return field(default=default, metadata={"choices": choices})


def bounded(default: Any, low: float | None = None, high: float | None = None) -> Any:
    """A field whose value must lie in [low, high]: a 0 where 1 was meant should be an
    error that names the key, not a silently tiny store or a busy loop."""
    return field(default=default, metadata={"low": low, "high": high})


@dataclass(frozen=True)
class LibraryConfig:
    paths: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=lambda: list(DEFAULT_EXTENSIONS))


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = ""
    map_size_gb: float = bounded(256.0, 0.001, 65536)


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = bounded(8765, 1, 65535)
    token: str = ""
    allowed_hosts: list[str] = field(default_factory=list)
    max_body_mb: int = bounded(64, 1, 4096)
    preview_cache_mb: int = bounded(1024, 0, 1_000_000)


@dataclass(frozen=True)
class PipelineConfig:
    stages: list[str] = field(default_factory=lambda: ["hash", "meta", "thumbnail", "quality",
                                                          "clip", "faces", "face_quality",
                                                          "text"])
    queue_size: int = bounded(64, 1, 100_000)


@dataclass(frozen=True)
class WatcherConfig:
    enabled: bool = True
    debounce_s: float = bounded(0.4, 0, 3600)
    settle_s: float = bounded(0.3, 0, 3600)


@dataclass(frozen=True)
class SchedulerConfig:
    rescan_interval_s: int = bounded(3600, 1)
    missing_root_check_s: int = bounded(30, 1)
    model_check_s: int = bounded(30, 1)


@dataclass(frozen=True)
class LimitsConfig:
    max_pixels: int = bounded(120_000_000, 1_000_000, 2_000_000_000)
    decode_budget_pixels: int = bounded(128_000_000, 1_000_000, 8_000_000_000)
    max_file_mb: int = bounded(2048, 1, 1_000_000)
    max_video_mb: int = bounded(65536, 1, 100_000_000)
    max_video_seconds: int = bounded(86_400, 1, 10_000_000)
    video_scenes: int = bounded(16, 1, 1000)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "ViT-B-32__laion2b-s34b-b79k"
    auto_pull: bool = True
    hub_org: str = "immich-app"
    package_index: str = "https://pypi.org/simple"
    providers: list[str] = field(
        default_factory=lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    intra_op_threads: int = bounded(0, 0, 1024)
    inter_op_threads: int = bounded(0, 0, 1024)
    quantized: bool = False
    exact_decode: bool = False
    language: str = ""
    text_idle_unload_s: int = bounded(300, 0)
    text_cache_size: int = bounded(256, 0, 1_000_000)
    backend: str = one_of("local", "local", "remote")
    remote_urls: list[str] = field(default_factory=list)
    remote_in_flight: int = bounded(4, 1, 64)
    remote_timeout_s: float = bounded(30.0, 1.0, 600.0)
    fallback: str = one_of("none", "none", "local")

    def __post_init__(self) -> None:
        for url in self.remote_urls:
            if not url.startswith(("http://", "https://")) or len(url) < 10:
                raise ConfigError(f"[model] remote_urls: {url!r} is not an http:// or "
                                  "https:// URL, like http://gpu-box:3003")
        if not self.package_index.startswith(("http://", "https://")):
            raise ConfigError(f"[model] package_index: {self.package_index!r} is not an "
                              "http:// or https:// URL, like https://pypi.org/simple")
        if self.backend == "remote" and not self.remote_urls:
            raise ConfigError('[model] backend = "remote" needs remote_urls, like '
                              '["http://gpu-box:3003"]')


@dataclass(frozen=True)
class IndexConfig:
    check_interval_s: int = bounded(10, 1)
    min_rebuild_interval_s: int = bounded(60, 0)
    n_trees: int = bounded(64, 1, 1024)
    build_memory_mb: int = bounded(1024, 16, 1_048_576)
    exact_below: int = bounded(30_000, 0, 10_000_000)
    search_k: int = bounded(10_000, 1)
    text_limit: int = bounded(500, 1, 1_000_000)
    duplicate_threshold: float = bounded(0.95, 0.5, 1.0)


@dataclass(frozen=True)
class StacksConfig:
    gap_s: float = bounded(30.0, 0.0, 86_400.0)
    similarity: float = bounded(0.85, 0.0, 1.0)


@dataclass(frozen=True)
class RatingsConfig:
    write_xmp: bool = False


@dataclass(frozen=True)
class Config:
    library: LibraryConfig = field(default_factory=LibraryConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    watcher: WatcherConfig = field(default_factory=WatcherConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    ratings: RatingsConfig = field(default_factory=RatingsConfig)
    stacks: StacksConfig = field(default_factory=StacksConfig)
    # Per-stage sections, validated against each stage's own defaults at assembly.
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per-feature sections, validated against each feature's own schema when it loads.
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "built-in defaults"

    @property
    def data_dir(self) -> Path:
        if self.storage.data_dir:
            return Path(self.storage.data_dir).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "anagnorisisd"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def stage_section(self, name: str) -> dict[str, Any]:
        return dict(self.stages.get(name, {}))

    def feature_section(self, name: str) -> dict[str, Any]:
        return dict(self.features.get(name, {}))


SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("stages", "features", "source")
}


def candidate_paths() -> list[Path]:
    """Where a config is looked for when --config is not given, in order."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path("config.toml"), Path(xdg) / "anagnorisisd" / "config.toml"]


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load config from an explicit path, the search path, or defaults; then apply env."""
    raw: dict[str, Any] = {}
    source = "built-in defaults"
    chosen = Path(path) if path else os.environ.get(ENV_PREFIX + "CONFIG")
    if chosen:
        file = Path(chosen)
        if not file.is_file():
            raise ConfigError(f"{file}: config file not found")
    else:
        file = next((p for p in candidate_paths() if p.is_file()), None)  # type: ignore[assignment]
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
        source = str(file)
    apply_env_overrides(raw, os.environ)
    return build_config(raw, source)


def apply_env_overrides(raw: dict[str, Any], env: typing.Mapping[str, str]) -> None:
    """ANAGNORISISD_SECTION__KEY=value sets [section] key; the value is read as TOML."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section_key = name[len(ENV_PREFIX) :].lower().split("__")
        if len(section_key) == 3 and section_key[0] in PLUGIN_TABLES:
            table, section, key = section_key  # [stages.faces] backend, [features.x] y
            raw.setdefault(table, {}).setdefault(section, {})[key] = _parse_env_value(value)
            continue
        if len(section_key) != 2:
            raise ConfigError(f"{name}: expected {ENV_PREFIX}SECTION__KEY (or "
                              f"{ENV_PREFIX}STAGES__NAME__KEY, {ENV_PREFIX}FEATURES__NAME__KEY)")
        section, key = section_key
        raw.setdefault(section, {})[key] = _parse_env_value(value)


def _parse_env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def build_config(raw: dict[str, Any], source: str = "built-in defaults") -> Config:
    kwargs: dict[str, Any] = {"source": source}
    for section, value in raw.items():
        if section in PLUGIN_TABLES:
            kwargs[section] = _plugin_sections(section, value)
            continue
        schema = SECTIONS.get(section)
        if schema is None:
            raise ConfigError(f"{source}: unknown section [{section}]")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        kwargs[section] = _build_section(schema, section, value, source)
    return Config(**kwargs)


PLUGIN_TABLES = {"stages": "thumbnail", "features": "people"}
"""Tables of one section per plugin ([stages.NAME], [features.NAME]), each validated
against the plugin's own schema when it loads; the value is an example name."""


def _plugin_sections(table: str, value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"[{table}] must hold one table per {table[:-1]}, e.g. "
                          f"[{table}.{PLUGIN_TABLES[table]}]")
    return {name: dict(section) for name, section in value.items()}


def _build_section(schema: type, section: str, values: dict[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key [{section}] {key}")
        check_type(f"[{section}] {key}", value, hints[key], source)
        check_bounds(f"[{section}] {key}", value, fields[key].metadata, source)
    try:
        return schema(**values)
    except ConfigError as exc:  # a rule across keys (__post_init__): name the file too
        raise ConfigError(f"{source}: {exc}") from None


def check_bounds(label: str, value: Any, metadata: typing.Mapping[str, Any],
                 source: str = "config") -> None:
    choices = metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{source}: {label} must be one of "
                          f"{', '.join(map(repr, choices))}, got {value!r}")
    low, high = metadata.get("low"), metadata.get("high")
    if low is not None and value < low:
        raise ConfigError(f"{source}: {label} must be at least {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{source}: {label} must be at most {high:g}, got {value!r}")


def check_type(label: str, value: Any, expected: Any, source: str = "config") -> None:
    """Raise ConfigError unless value fits the annotation (str/int/float/bool/list[...])."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        if any(_fits(value, arm) for arm in typing.get_args(expected)):
            return
    elif _fits(value, expected):
        return
    raise ConfigError(
        f"{source}: {label} must be {_describe(expected)}, got {type(value).__name__} {value!r}"
    )


def _fits(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin is list:
        (item,) = typing.get_args(expected)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is type(None):
        return value is None
    return isinstance(value, expected)


def _describe(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin is list:
        return f"a list of {_describe(typing.get_args(expected)[0])}"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(expected, getattr(expected, "__name__", str(expected)))


@dataclass(frozen=True)
class Setting:
    """One key of a stage's ``[stages.NAME]`` section, declared by the stage (as mopidy
    extensions declare their schema): its type, default, bounds, allowed values, meaning."""

    type: Any
    default: Any
    doc: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()


def validate_stage_section(
    stage: str, values: dict[str, Any], schema: dict[str, Setting], source: str = "config",
    table: str = "stages",
) -> dict[str, Any]:
    """Merge a [stages.NAME] (or [features.NAME]) section over the plugin's declared
    defaults, checked against its schema: unknown keys, wrong types, values out of bounds
    or not among the choices are one-line errors naming the file and the key."""
    merged: dict[str, Any] = {"enabled": True, **{k: s.default for k, s in schema.items()}}
    for key, value in values.items():
        label = f"[{table}.{stage}] {key}"
        if key == "enabled":
            check_type(label, value, bool, source)
        elif key not in schema:
            raise ConfigError(f"{source}: unknown key {label}")
        else:
            setting = schema[key]
            check_type(label, value, setting.type, source)
            check_bounds(label, value, {"low": setting.low, "high": setting.high}, source)
            if setting.choices and value not in setting.choices:
                raise ConfigError(f"{source}: {label} must be one of "
                                  f"{', '.join(map(repr, setting.choices))}, got {value!r}")
        merged[key] = value
    return merged
