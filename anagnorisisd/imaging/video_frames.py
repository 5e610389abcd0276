"""The frames a video is known by: its scene changes (to search inside it) and its poster.

A clip is looked at, not watched: up to ``VideoLimits.samples`` moments spread over its
length. Where its container indexes keyframes at least every DENSE_KEYFRAMES_S (a phone's
MP4 or MOV), each moment is stood for by the keyframe nearest to it and only keyframes are
decoded, one seek and one frame each. Where they are sparse, each moment is decoded from
the keyframe before it or from where the decoder stands, whichever is nearer, and only
beyond MAX_STEPS frames does the nearest keyframe stand for it (encoders put keyframes at
cuts). Without an index (Matroska until it seeks, AVI), frames are decoded forward.

A sample far enough from the last kept scene in look (a 16x16 picture's mean difference)
starts a new scene; at most ``keyframes`` are kept, and ``per_minute`` per minute of
footage, the largest changes first. The whole look is bounded by ``decoded`` frames and
``decode_seconds``: a video that would cost more is described by what was seen by then,
and says so.

The poster is the first kept scene that is neither dark nor flat, so a clip that fades in
from black never shows a black tile. Its time is remembered for the process (by path,
size and modification time), so the viewer's preview and a face crop decode one frame.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.imaging.budget import Limits, draft_box
from anagnorisisd.imaging.video import VideoInfo, VideoLimits, VideoRefused, opened, probe

SCENE_CHANGE = 0.12
"""Mean absolute difference (0-1) of two 16x16 colour pictures that counts as a new scene.
A moving subject in one shot stays under about 0.07 (tests/test_video.py); a cut between
two different photographs is 0.15 to 0.4."""
MAX_STEPS = 48
"""Frames decoded forward from a keyframe toward one moment, at most; past that, the
keyframe stands for it."""
SEEK_AFTER_S = 2.0
DENSE_KEYFRAMES_S = 2.0
"""Keyframes this close on average (phones write one every second or two) are samples
enough: the look decodes nothing else. Farther apart (x264's default of one per 250 frames,
plus cuts), a fade or a pan between them would go unseen, so frames between are decoded."""
"""Without an index of keyframes: seek only for a moment this far ahead of the decoder."""
POSTERS = 512
MIN_SCENES = 4
"""Scenes a short clip may keep whatever its length (the per-minute bound is for long ones)."""


@dataclass
class Moment:
    at_s: float
    image: Image.Image
    """Upright RGB, at the size asked for."""
    change: float = 1.0
    """How far it is from the scene before it (1 for the first)."""


@dataclass
class Sampled:
    info: VideoInfo
    moments: list[Moment]
    """The scenes kept, in time order."""
    poster: int
    """Which moment is the poster."""
    decoded: int
    cut_short: str | None = None
    """Why the look stopped before the end (a budget), if it did."""
    looked: list[float] = field(default_factory=list)
    """The time of every frame looked at (with dense keyframes: every frame decoded)."""

    @property
    def poster_moment(self) -> Moment:
        return self.moments[self.poster]


_posters: OrderedDict[tuple[str, int, int], float] = OrderedDict()
_posters_lock = threading.Lock()


def sample(path: str, shortest: int | None = None, longest: int | None = None) -> Sampled:
    """The clip's scenes and poster, each at least `shortest` on its short side and
    `longest` on its long side (the smallest size that serves both; the stored size when
    neither is given). Raises VideoRefused for a clip that is refused or has no frame."""
    with _reading(path, shortest, longest) as (info, reader):
        samples, cut_short = reader.look(_targets(info.duration_s))
    if not samples:
        raise VideoRefused("no frame could be decoded" + (f" ({reader.error})"
                                                           if reader.error else ""))
    moments = _scenes(samples, info.duration_s)
    poster = _poster_of(moments)
    remember_poster(path, moments[poster].at_s)
    return Sampled(info, moments, poster, reader.decoded, cut_short,
                   [s.at_s for s in samples])


def poster(path: str, shortest: int | None = None, longest: int | None = None
           ) -> Image.Image:
    """The poster frame, upright RGB at the size asked: one seek where its time is known,
    the whole look otherwise."""
    at = _known_poster(path)
    if at is None:
        return sample(path, shortest, longest).poster_moment.image
    return frame_at(path, at, shortest, longest)


def frame_at(path: str, at_s: float, shortest: int | None = None,
             longest: int | None = None) -> Image.Image:
    """The frame shown at `at_s` seconds (a scene a face was found in), upright RGB at the
    size asked, within the same limits as a look."""
    with _reading(path, shortest, longest) as (_, reader):
        found, _ = reader.look([max(0.0, at_s)])
    if not found:
        raise VideoRefused(f"no frame could be decoded at {at_s:.2f} s")
    return found[0].image


@contextmanager
def _reading(path: str, shortest: int | None, longest: int | None
             ) -> Iterator[tuple[VideoInfo, _Reader]]:
    """The clip opened and probed, and a reader for it, holding its share of the decode
    budget (a decoder keeps several reference frames: six frames' pixels) meanwhile."""
    with opened(path) as container:
        info = probe(container)
        with Limits.budget.hold(min(info.width * info.height * 6, Limits.budget.capacity)):
            yield info, _Reader(container, info, shortest, longest)


def remember_poster(path: str, at_s: float) -> None:
    key = _key(path)
    if key is None:
        return
    with _posters_lock:
        _posters[key] = at_s
        _posters.move_to_end(key)
        while len(_posters) > POSTERS:
            _posters.popitem(last=False)


def _known_poster(path: str) -> float | None:
    key = _key(path)
    with _posters_lock:
        return _posters.get(key) if key is not None else None


def _key(path: str) -> tuple[str, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return path, st.st_size, st.st_mtime_ns


def _targets(duration: float) -> list[float]:
    """Moments to look at: one a second for a short clip, `samples` spread over a long one,
    each in the middle of its stretch (never the very first frame, often black)."""
    if duration <= 0:
        return [0.0]
    count = max(1, min(VideoLimits.samples, math.ceil(duration)))
    step = duration / count
    return [step * (k + 0.5) for k in range(count)]


@dataclass
class _Sample:
    at_s: float
    image: Image.Image
    signature: NDArray[np.float32]


class _Reader:
    """Decodes toward moments in order, within the frame and time budgets."""

    def __init__(self, container: Any, info: VideoInfo, shortest: int | None,
                 longest: int | None) -> None:
        self.container = container
        self.stream = container.streams[info.stream]
        self.fps = info.fps or 30.0
        self.box = draft_box(info.width, info.height, shortest, longest)
        base = self.stream.time_base
        self.base = float(base) if base else 1 / 90_000
        start = self.stream.start_time
        self.start = float(start) * self.base if start is not None else 0.0
        self.keyframes = self._keyframe_times(info.duration_s)
        self.dense = len(self.keyframes) > 1 and \
            info.duration_s / len(self.keyframes) <= DENSE_KEYFRAMES_S
        """Keyframes at least every DENSE_KEYFRAMES_S: only they are decoded."""
        # one frame at a time after a seek: frame threads would only hold it back
        self.stream.thread_type = "SLICE" if self.dense else "AUTO"
        self.frames: Any = None
        self.cursor = 0.0
        """Where the decoder stands: the time of the next frame it will give, about."""
        self.decoded = 0
        self.error: str | None = None
        self.ended = False

    def _keyframe_times(self, duration: float) -> list[float]:
        """Where the keyframes are, from the container's index where it has a whole one (an
        MP4's sample table); Matroska reads its cues only when it seeks, so an index of one
        entry for a long clip is no index."""
        try:
            entries = self.stream.index_entries
            times = sorted(float(e.timestamp) * self.base - self.start for e in entries
                           if e.is_keyframe)[: 1 << 20]
        except (AttributeError, TypeError, ValueError):
            return []
        if times and times[0] < 0:  # decode times run ahead of the shown ones by the
            times = [t - times[0] for t in times]  # reordering delay: shown, it starts at 0
        return times if len(times) > 1 or duration <= SEEK_AFTER_S else []

    def look(self, targets: list[float]) -> tuple[list[_Sample], str | None]:
        """A sample at each of `targets`, in order. Where the container indexes its
        keyframes, each target is stood for by the keyframe nearest to it, and only
        keyframes are decoded (encoders put them at cuts, phones every second or two)."""
        started = time.monotonic()
        found: list[_Sample] = []
        if self.dense:
            targets = sorted({self._nearest_keyframe(t) for t in targets})
            self.stream.codec_context.skip_frame = "NONKEY"
        for target in targets:
            if self.decoded >= VideoLimits.decoded:
                return found, f"stopped after {self.decoded} decoded frames"
            if time.monotonic() - started > VideoLimits.decode_seconds:
                return found, f"stopped after {VideoLimits.decode_seconds:.0f} s of decoding"
            got = self._toward(target)
            if got is None:
                break
            frame, at = got
            if found and at <= found[-1].at_s + 1e-6:
                continue  # the same keyframe stood for two moments
            image = self._image(frame)
            found.append(_Sample(at, image, _signature(image)))
        return found, None

    def _toward(self, target: float) -> tuple[Any, float] | None:
        """The frame for `target`. Dense keyframes (look() chose one): one seek, one frame.
        Sparse ones: the frame at `target` by the cheaper of going on from where the
        decoder is and seeking to the keyframe before it, or where both would cost more
        than MAX_STEPS frames, the keyframe nearest to it. No index: going on, or seeking
        where the target is more than SEEK_AFTER_S ahead (or behind)."""
        snap = self.dense
        if self.dense:
            self._seek(target)
        elif self.keyframes:
            before = self.keyframes[max(0, int(np.searchsorted(self.keyframes,
                                                               target + 1e-6)) - 1)]
            going_on = (target - self.cursor) * self.fps if self.cursor <= target else math.inf
            from_before = (target - before) * self.fps
            if min(going_on, from_before) > MAX_STEPS:
                snap = self._seek(self._nearest_keyframe(target))
            elif from_before < going_on:
                self._seek(before)
        elif target < self.cursor or target - self.cursor > SEEK_AFTER_S:
            self._seek(target)
        frame, steps = None, 0
        while steps < MAX_STEPS and self.decoded < VideoLimits.decoded:
            nxt = self._next()
            if nxt is None:
                break
            frame, steps = nxt, steps + 1
            if snap or self._time(frame) >= target - 0.5 / self.fps:
                break
        return (frame, self._time(frame)) if frame is not None else None

    def _nearest_keyframe(self, target: float) -> float:
        index = int(np.searchsorted(self.keyframes, target))
        before = self.keyframes[max(0, index - 1)]
        after = self.keyframes[min(index, len(self.keyframes) - 1)]
        return after if after - target < target - before else before

    def _seek(self, target: float) -> bool:
        import av

        # one tick past it: a keyframe's own time, read back through floats, may land a tick
        # short and find the keyframe before
        timestamp = round((target + self.start) / self.base) + 1
        try:
            self.container.seek(timestamp, stream=self.stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            self.error = str(exc)[:200]
            return False
        self.frames = None
        self.cursor = target
        return True

    def _next(self) -> Any:
        import av

        if self.ended and self.frames is None:
            return None
        if self.frames is None:
            self.frames = self.container.decode(self.stream)
        try:
            frame = next(self.frames)
        except StopIteration:
            self.frames, self.ended = None, True
            return None
        except av.FFmpegError as exc:  # a damaged or truncated stream: what came so far
            self.error, self.frames, self.ended = str(exc)[:200], None, True
            return None
        self.decoded += 1
        self.ended = False
        self.cursor = self._time(frame) + 0.5 / self.fps
        return frame

    def _time(self, frame: Any) -> float:
        at = frame.time
        if at is None:
            return self.decoded / self.fps
        return max(0.0, float(at) - self.start)

    def _image(self, frame: Any) -> Image.Image:
        image: Image.Image
        if self.box is not None:
            image = frame.to_image(width=self.box[0], height=self.box[1], interpolation="AREA")
        else:
            image = frame.to_image()
        turn = int(getattr(frame, "rotation", 0) or 0) % 360
        if turn == 90:
            image = image.transpose(Image.Transpose.ROTATE_90)
        elif turn == 180:
            image = image.transpose(Image.Transpose.ROTATE_180)
        elif turn == 270:
            image = image.transpose(Image.Transpose.ROTATE_270)
        return image


def _signature(image: Image.Image) -> NDArray[np.float32]:
    small = image.resize((16, 16), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _scenes(samples: list[_Sample], duration: float) -> list[Moment]:
    """The samples that start a new scene, bounded per video and per minute."""
    kept = [Moment(samples[0].at_s, samples[0].image)]
    last = samples[0].signature
    for sample_ in samples[1:]:
        change = float(np.abs(sample_.signature - last).mean())
        if change >= SCENE_CHANGE:
            kept.append(Moment(sample_.at_s, sample_.image, change))
            last = sample_.signature
    limit = min(VideoLimits.keyframes,
                max(MIN_SCENES, math.ceil(duration / 60 * VideoLimits.per_minute)))
    if len(kept) > limit:
        rest = sorted(kept[1:], key=lambda m: -m.change)[: limit - 1]
        kept = [kept[0], *sorted(rest, key=lambda m: m.at_s)]
    return kept


def _poster_of(moments: list[Moment]) -> int:
    """The first scene that is neither dark nor flat, else the most contrasted one."""
    spreads = []
    for index, moment in enumerate(moments):
        luma = np.asarray(moment.image.convert("L").resize((32, 32)), dtype=np.float32) / 255
        mean, spread = float(luma.mean()), float(luma.std())
        if 0.08 < mean < 0.95 and spread > 0.04:
            return index
        spreads.append(spread)
    return int(np.argmax(spreads))
