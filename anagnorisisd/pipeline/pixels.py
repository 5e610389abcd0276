"""Pixels as a service of the pipeline: each file decoded once per trip, for every stage.

A stage declares the pixels it reads (``Stage.pixels`` / ``pixel_need()``, a
``PixelNeed``). The first stage that asks for them, through ``StageInput.pixels()``,
has the file decoded, through the one bounded decode path, at the largest size any stage
still to run on that file declared; every stage then gets a view at its own size, made
from that one decode. A file whose stages have all run before (a model installed later,
a version bump of one stage) is decoded by the first stage that asks, at that stage's
size and the sizes of the stages after it.

A RAW file with the camera's JPEG (or HEIF) of the same name beside it is read from that
JPEG: the same exposure, developed by the camera, at a fraction of a RAW's decode.

A video's pixels are its poster frame, and its scenes are ``moments(need)``: one look
at the clip (imaging.video_frames) serves both, at the covering size.

Pixels are never stored. They live in the file's trip (the runner's Item) and are let go
as soon as no stage still to run declared any, so the memory they hold is bounded by the
items in flight between the first and the last stage that read pixels: at most
``[pipeline] queue_size`` per stage queue, each one decode at the largest declared size
(docs/plugins.md gives the figure).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.imaging.formats import developed_twin
from anagnorisisd.imaging.video import is_video
from anagnorisisd.imaging.video_frames import sample
from anagnorisisd.stage import PixelNeed


def covering(needs: list[PixelNeed]) -> PixelNeed:
    """One need that serves all of `needs`: full resolution if any wants it, else the
    largest longest side and the largest shortest side."""
    if not needs or any(n.full for n in needs):
        return PixelNeed()
    longest = max((n.longest for n in needs if n.longest), default=None)
    shortest = max((n.shortest for n in needs if n.shortest), default=None)
    return PixelNeed(longest=longest, shortest=shortest)


def satisfies(img: Image.Image, need: PixelNeed, full: bool) -> bool:
    """Whether a decode of this size serves `need`."""
    if need.full:
        return full
    if full:
        return True
    width, height = img.size
    return (need.longest is None or max(width, height) >= need.longest) and (
        need.shortest is None or min(width, height) >= need.shortest)


class FilePixels:
    """One file's pixels for one trip (a PixelSource)."""

    decodes = 0
    """Files decoded by every FilePixels of the process: what tells one decode per photo
    from two."""
    held_bytes = 0
    """Bytes of decoded pixels held by every FilePixels now, and the most ever held: what
    the bound in docs/plugins.md is measured against (make bench-clip)."""
    peak_bytes = 0
    _count_lock = threading.Lock()

    def __init__(self, path: str, still_to_run: Callable[[], list[PixelNeed]]) -> None:
        self.path = path
        self.still_to_run = still_to_run
        """The needs of the stages that will still run on this file, when asked."""
        self._image: Image.Image | None = None
        self._full = False
        self._views: dict[PixelNeed, Image.Image] = {}
        self._held = 0
        self._lock = threading.Lock()
        self._moments: list[tuple[float, Image.Image]] = []
        self.video = is_video(path)

    def view(self, need: PixelNeed) -> Image.Image:
        with self._lock:
            if self._image is None or not satisfies(self._image, need, self._full):
                self._decode(covering([need, *self.still_to_run()]))
            assert self._image is not None
            view = self._views.get(need)
            if view is None:
                view = self._views[need] = self._shrink(self._image, need)
            return view

    def moments(self, need: PixelNeed) -> list[tuple[float | None, Image.Image]]:
        """A video's scenes with their times, each at `need`; a photo is one moment."""
        poster = self.view(need)
        if not self.video:
            return [(None, poster)]
        with self._lock:
            return [(at, self._shrink(image, need)) for at, image in self._moments]

    def _decode(self, need: PixelNeed) -> None:
        if self.video:
            self._decode_video(need)
            return
        upright = None
        twin = developed_twin(self.path)
        if twin is not None:  # a RAW+JPEG pair: the camera's JPEG is this exposure already
            try:
                with decoded(twin, need.shortest, need.longest) as img:
                    upright = to_rgb(img)
                    upright.load()
            except Exception:  # gone or broken since: the RAW itself, then
                upright = None
        if upright is None:
            with decoded(self.path, need.shortest, need.longest) as img:
                upright = to_rgb(img)
                upright.load()
        # A reduced-size decode is never smaller than asked, so a decode smaller than asked
        # is the whole photo: it serves every need there is.
        self._keep(upright, need, [])

    def _decode_video(self, need: PixelNeed) -> None:
        looked = sample(self.path, need.shortest, need.longest)
        self._keep(looked.poster_moment.image, need,
                   [(m.at_s, m.image) for m in looked.moments])

    def _keep(self, upright: Image.Image, need: PixelNeed,
              moments: list[tuple[float, Image.Image]]) -> None:
        self._forget()
        self._image, self._moments = upright, moments
        self._held = sum(img.width * img.height * len(img.getbands())
                         for img in [upright, *(image for _, image in moments)])
        self._full = need.full or not satisfies(upright, need, full=False)
        with FilePixels._count_lock:
            FilePixels.decodes += 1
            FilePixels.held_bytes += self._held
            FilePixels.peak_bytes = max(FilePixels.peak_bytes, FilePixels.held_bytes)

    def _forget(self) -> None:
        with FilePixels._count_lock:
            FilePixels.held_bytes -= self._held
        self._held = 0
        self._image = None
        self._moments = []
        self._views.clear()

    @staticmethod
    def _shrink(img: Image.Image, need: PixelNeed) -> Image.Image:
        """A view no larger than `need.longest` (box-averaged: antialiased, and a third
        cheaper than bilinear at these factors); the decode itself when it is no larger."""
        if need.longest is None or max(img.size) <= need.longest:
            return img
        scale = need.longest / max(img.size)  # as Image.thumbnail sizes it, without a copy
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        return img.resize(size, Image.Resampling.BOX, reducing_gap=2.0)

    def __del__(self) -> None:  # a trip dropped midway (retried later) held pixels too
        if self._held:
            with FilePixels._count_lock:
                FilePixels.held_bytes -= self._held

    @property
    def holding(self) -> bool:
        """Whether a decode is held now."""
        return self._image is not None

    def release(self) -> None:
        """No stage still to run reads pixels: let them go."""
        with self._lock:
            self._forget()
