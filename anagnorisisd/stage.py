"""The Stage contract: the one interface a pipeline plugin implements.

A stage is a class registered under the ``anagnorisisd.stages`` entry-point
group. The daemon instantiates it with its validated ``[stages.NAME]`` section
and then calls ``process`` with batches. Every public member below is a hook a
plugin author may rely on, and each is documented in docs/plugins.md (a test
keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from anagnorisisd.config import Setting

__all__ = ["PixelNeed", "PixelSource", "Setting", "Stage", "StageContext", "StageInput",
           "StageOutput", "StageSkip"]

if TYPE_CHECKING:
    from PIL import Image

    from anagnorisisd.config import Config


@dataclass(frozen=True)
class PixelNeed:
    """The pixels a stage wants, declared the way ``requires`` is (``Stage.pixels``).

    The runner decodes each file once, through the one bounded decode path, at the
    largest size any stage still to run on that file declared, and hands each stage a view
    at its own size (``StageInput.pixels()``). Every view is upright (EXIF orientation
    applied) and sRGB (colour-managed, transparency on grey): what every stage here wants.
    """

    longest: int | None = None
    """The longest side wanted: the view is no larger (a thumbnail's 320, say)."""
    shortest: int | None = None
    """Or the shortest side needed at least (a model that crops a square of 224 from the
    middle); the view may be larger. With neither set: the full resolution."""

    @property
    def full(self) -> bool:
        return self.longest is None and self.shortest is None


class PixelSource(Protocol):
    """The runner's one decode of one file, for one trip through the pipeline."""

    def view(self, need: PixelNeed) -> Image.Image:
        """The file's pixels at `need` (decoding them first, once, if no stage has yet)."""
        ...

    def moments(self, need: PixelNeed) -> list[tuple[float | None, Image.Image]]:
        """A video's scenes, each with its time in seconds, at `need`; a photo's one
        picture, with no time."""
        ...


@dataclass
class StageInput:
    """One unit of work handed to ``Stage.process``.

    ``inputs`` holds the outputs of the stages named in ``requires``, so a stage
    never has to read the store itself.
    """

    path: str
    content_hash: bytes | None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    carried: dict[str, Any] = field(default_factory=dict)
    """What earlier stages handed on for this trip only (``StageOutput.carry``): for
    hand-offs that really are one stage's business. Pixels never go here: ask
    ``pixels()``."""
    source: PixelSource | None = None
    """Set by the runner: the file's one decode. A stage reads it through ``pixels()``."""
    need: PixelNeed | None = None
    """The stage's own declaration (``Stage.pixel_need()``), the default of ``pixels()``."""

    def pixels(self, need: PixelNeed | None = None) -> Image.Image:
        """The file's pixels, upright and sRGB, at the stage's declared size (or `need`):
        from the pipeline's one decode of this file, made now if no stage has made it yet
        (the content was processed before, a model came later, a version changed). Raises
        what the decoder raises for a file that cannot be read; never stores anything."""
        if self.source is None:
            raise RuntimeError("no pixels: this StageInput was not made by the runner")
        return self.source.view(need or self.need or PixelNeed())

    def moments(self, need: PixelNeed | None = None) -> list[tuple[float | None, Image.Image]]:
        """For a video, its scenes (imaging.video_frames: scene changes, bounded per clip
        and per minute), each with its time in seconds, from the same one look at the clip
        that made its ``pixels()`` (the poster); for a photo, ``[(None, pixels())]``. A
        stage that reads scenes finds what happens inside a clip, and when."""
        if self.source is None:
            raise RuntimeError("no pixels: this StageInput was not made by the runner")
        return self.source.moments(need or self.need or PixelNeed())


@dataclass
class StageOutput:
    """What a stage says about one input: an output mapping, a failure reason, or "not now"."""

    output: dict[str, Any] | None = None
    error: str | None = None
    retry: str | None = None
    carry: dict[str, Any] | None = None

    @classmethod
    def ok(cls, output: dict[str, Any], carry: dict[str, Any] | None = None) -> StageOutput:
        """`output` is stored against the content. `carry` is not: it rides with the file to
        the later stages of this one trip (``StageInput.carried``) and is then dropped, so
        it may hold anything (decoded pixels, say), and it costs memory only while the file
        is in the pipeline's bounded queues."""
        return cls(output=output, carry=carry)

    @classmethod
    def fail(cls, reason: str) -> StageOutput:
        """The content cannot be processed (say, it is not an image): recorded, not retried
        until the content or the stage version changes."""
        return cls(error=reason)

    @classmethod
    def later(cls, reason: str) -> StageOutput:
        """Not now, for a reason that is not the content's (the file vanished while it was
        read, say): the file stays queued and is tried again shortly, or forgotten if it
        has really gone."""
        return cls(retry=reason)


@dataclass
class StageContext:
    """What the daemon shares with stages beyond their own section.

    ``models`` is the one model service of the daemon, so a stage that embeds
    images and the search that embeds queries use the same loaded model.
    """

    config: Config
    models: Any = None
    """The daemon's CLIP model service (anagnorisisd.ml.service.ModelService), typed loosely
    so that this contract, on the ground floor, imports nothing above it."""


class StageSkip(Exception):
    """Raised for an input that cannot be processed *yet* (e.g. the file is mid-write).

    The file stays queued and is not marked failed.
    """


class Stage:
    """Base class for pipeline stages. Subclass it and set the class attributes."""

    name: ClassVar[str] = ""
    """Unique stage name; also the name of its config section ``[stages.NAME]``."""

    version: str = "1"
    """Bump to re-run the stage on all content. May depend on config (see ``__init__``)."""

    requires: ClassVar[tuple[str, ...]] = ()
    """Names of stages whose outputs this stage reads from ``StageInput.inputs``."""

    keys_content: ClassVar[bool] = False
    """True for the single stage that turns a path into a content hash."""

    pixels: ClassVar[PixelNeed | None] = None
    """The pixels this stage reads, if any (``PixelNeed``): the runner decodes each file once
    for every stage that declares them. A stage whose need depends on its config or its
    model says so in ``pixel_need``."""

    background: ClassVar[bool] = False
    """True for a stage far slower than the rest (OCR): it is passed by on every file's trip
    and run by the pipeline's background lane instead, one photo at a time at low CPU
    priority, only while no other stage has work (pipeline/background.py)."""

    reads_sidecars: ClassVar[bool] = False
    """True for a stage whose output depends on the photo's XMP sidecars too (the metadata
    stage: ratings, labels, keywords other tools wrote): when another tool changes a
    sidecar, the daemon runs such stages again on that photo, and only those."""

    provides: ClassVar[tuple[str, ...]] = ()
    """Well-known kinds of output this stage makes, each with the schema docs/plugins.md gives:
    ``"metadata"`` (sort and filter columns), ``"thumbnail"`` (the grid's pictures),
    ``"embedding"`` (vectors for search and the evaluator). The daemon finds each kind by
    this declaration, never by a stage's name, so a third-party stage can replace a
    built-in one."""

    config_schema: ClassVar[dict[str, Setting]] = {}
    """The keys of the stage's ``[stages.NAME]`` section: ``{"size": Setting(int, 320,
    "longest side in pixels", low=16, high=2048)}``. Unknown keys, wrong types and values
    out of bounds are one-line config errors; ``enabled`` is always accepted."""

    batch_size: int = 16
    """How many inputs ``process`` wants at once; batch-friendly stages raise it."""

    workers: int = 1
    """How many threads run ``process`` concurrently for this stage."""

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        """Receive the validated config section (defaults merged, ``enabled`` included)
        and the daemon's shared context."""
        self.config = config
        self.context = context

    def pixel_need(self) -> PixelNeed | None:
        """The pixels this stage reads now: ``pixels`` unless the stage knows better at run
        time (a thumbnail's configured size, a model's input size)."""
        return self.pixels

    def ready(self) -> bool:
        """False while the stage cannot work yet (say, its model is still downloading).

        Files then pass the stage by without being marked failed; when it
        becomes ready the daemon re-queues the content that lacks its output.
        """
        return True

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        """Return one StageOutput per input, in order.

        Raising fails the whole batch; the runner then retries each input alone
        so that one bad file cannot take its neighbours down with it.
        """
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        """Extra facts for ``/api/status`` under ``stages.NAME`` (model in use, errors...)."""
        return {}

    def close(self) -> None:
        """Release resources (sessions, pools) when the daemon stops."""
