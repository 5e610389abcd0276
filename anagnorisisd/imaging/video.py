"""Video files as library items: what a clip is, from its container, read without trusting it.

PyAV (FFmpeg's libraries, bundled in its wheels) opens every container a phone or camera
writes. A video is read from the descriptor ``safe_io`` opened (a FIFO named ``.mp4`` is
refused before FFmpeg sees it), and refused before any frame is decoded when its header is
absurd: more streams than a real file carries, a frame larger than the pixel limit, a
duration longer than ``[limits] max_video_seconds``. What a clip *is* comes from the
container alone: duration, frame rate, codec, the upright size (the display matrix a
phone writes instead of turning the pixels), and the QuickTime keys Apple and Android
cameras write: the capture time with its zone, the ISO 6709 position, make and model,
and the content identifier that ties a Live Photo's motion to its still.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from anagnorisisd.imaging.exif import clean
from anagnorisisd.ingest.safe_io import open_regular

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".mkv", ".webm", ".avi"})
MAX_STREAMS = 64
"""More streams than any camera or phone writes (a phone's MOV has four to six); FFmpeg
itself is told to stop reading stream headers past this."""
ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")
APPLE = "com.apple.quicktime."


class VideoRefused(ValueError):
    """A video that will not be read, with the reason shown to the person."""


class VideoLimits:
    """Set from ``[limits]`` at start-up (``configure``)."""

    max_bytes: int = 65536 << 20
    max_seconds: float = 86_400.0
    max_pixels: int = 120_000_000
    keyframes: int = 16
    """Keyframes kept per video at most (scene changes, for search inside it)."""
    per_minute: int = 12
    """And at most this many per minute of footage: a long clip is not all keyframes."""
    samples: int = 40
    """Frames looked at per video to find the scene changes, at most."""
    decoded: int = 1200
    """Frames decoded per video at most, seeks included: the budget that bounds its cost
    whatever its keyframe spacing."""
    decode_seconds: float = 60.0
    """Wall-clock time one video's frames may take; what was found by then is kept."""


def configure(max_bytes: int, max_seconds: float, max_pixels: int, keyframes: int) -> None:
    VideoLimits.max_bytes, VideoLimits.max_seconds = max_bytes, max_seconds
    VideoLimits.max_pixels, VideoLimits.keyframes = max_pixels, keyframes


def is_video(path: str | bytes) -> bool:
    name = path.decode(errors="replace") if isinstance(path, bytes) else path
    return PurePath(name).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class VideoInfo:
    """One clip's header facts: enough to refuse it, size its frames and describe it."""

    duration_s: float
    fps: float
    codec: str
    width: int
    """As stored; ``upright`` turns it as displayed (a portrait phone clip is stored
    landscape)."""
    height: int
    stream: int
    tags: dict[str, str] = field(default_factory=dict)
    """The container's metadata keys (QuickTime, Matroska), as FFmpeg reads them."""


@contextmanager
def opened(path: str) -> Iterator[Any]:
    """The container, from a descriptor safe_io judged a regular file within the size limit;
    FFmpeg stops reading stream headers past MAX_STREAMS (`max_streams`)."""
    import av

    with open_regular(path, VideoLimits.max_bytes, setting="max_video_mb") as raw:
        try:
            container = av.open(raw, "r", options={"max_streams": str(MAX_STREAMS)})
        except av.MemoryError:  # what FFmpeg says past max_streams (or a header's absurd ask)
            raise VideoRefused(f"more than {MAX_STREAMS} streams, or a header asking for more "
                               "memory than FFmpeg allows: no real clip does") from None
        except av.FFmpegError as exc:
            raise VideoRefused(f"FFmpeg cannot read it: {_said(exc)}") from None
        try:
            yield container
        finally:
            container.close()


def _said(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc)
    return text.split(": '", 1)[0][:200]


def probe(container: Any) -> VideoInfo:
    """The clip's facts, or VideoRefused for a header no real clip has."""
    streams = container.streams
    if len(streams) > MAX_STREAMS:
        raise VideoRefused(f"{len(streams)} streams, more than the {MAX_STREAMS} a real "
                           "clip carries")
    if not streams.video:
        raise VideoRefused("no video stream")
    stream = streams.video[0]
    width, height = int(stream.width or 0), int(stream.height or 0)
    if width <= 0 or height <= 0:
        raise VideoRefused("its video stream declares no frame size")
    if width * height > VideoLimits.max_pixels:
        raise VideoRefused(f"{width}x{height} frames ({width * height / 1e6:.0f} MP), above "
                           f"the {VideoLimits.max_pixels / 1e6:.0f} MP limit ([limits] "
                           "max_pixels)")
    duration = _duration(container, stream)
    if duration > VideoLimits.max_seconds:
        raise VideoRefused(f"{duration / 3600:.1f} hours long, above the "
                           f"{VideoLimits.max_seconds / 3600:.1f} hour limit ([limits] "
                           "max_video_seconds)")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    tags = {str(k): str(v) for k, v in list(container.metadata.items())[:256]}
    for key, value in list(stream.metadata.items())[:64]:
        tags.setdefault(str(key), str(value))
    return VideoInfo(duration, fps if 0 < fps < 10_000 else 0.0,
                     stream.codec_context.name, width, height, stream.index, tags)


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
        if seconds > 0:
            return seconds
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000
    return 0.0


def first_rotation(container: Any) -> int:
    """The display matrix's turn, which FFmpeg hands over with the first decoded frame."""
    import av

    try:
        frame = next(container.decode(video=0), None)
    except av.FFmpegError:
        frame = None
    return int(getattr(frame, "rotation", 0) or 0) % 360 if frame is not None else 0


def describe(path: str) -> dict[str, Any]:
    """The metadata stage's record of a video: size, duration, rate, codec, capture time
    and its source, camera, position, and Apple's content identifier."""
    with opened(path) as container:
        info = probe(container)
        rotation = first_rotation(container)
    width, height = (info.height, info.width) if rotation % 180 else (info.width, info.height)
    record: dict[str, Any] = {
        "kind": "video", "format": PurePath(path).suffix.lower().lstrip("."),
        "width": width, "height": height, "frames": 1,
        "duration_s": round(info.duration_s, 3), "fps": round(info.fps, 3),
        "codec": info.codec, "rotation": rotation}
    record.update(_capture_time(info.tags))
    record["camera"] = _camera(info.tags)
    record["gps"] = _position(info.tags)
    record["content_id"] = clean(info.tags.get(APPLE + "content.identifier"))
    return record


def _capture_time(tags: dict[str, str]) -> dict[str, Any]:
    """Apple's creation date keeps the phone's wall clock and zone; FFmpeg's creation_time
    is UTC (so its zone is known to be +00:00)."""
    for key, source in ((APPLE + "creationdate", "quicktime"), ("creation_time", "container"),
                        ("date", "container")):
        text = clean(tags.get(key))
        if not text:
            continue
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        if when.year < 1971:  # a zeroed header field reads as 1904 or 1970: no time at all
            continue
        offset = when.utcoffset()
        return {"taken_at": when.replace(tzinfo=None, microsecond=0).isoformat(),
                "taken_offset": _offset_text(offset) if offset is not None else None,
                "taken_source": source}
    return {"taken_at": None, "taken_offset": None, "taken_source": None}


def _offset_text(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _camera(tags: dict[str, str]) -> str | None:
    make = clean(tags.get(APPLE + "make") or tags.get("make"))
    model = clean(tags.get(APPLE + "model") or tags.get("model"))
    if model and make and model.lower().startswith(make.lower().split()[0]):
        make = None
    return " ".join(p for p in (make, model) if p) or None


def _position(tags: dict[str, str]) -> list[float] | None:
    """ISO 6709 ("+48.8584+002.2945+035.000/"), from Apple's key or FFmpeg's `location`."""
    for key in (APPLE + "location.ISO6709", "location", "com.android.location"):
        text = tags.get(key)
        match = ISO6709.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            continue
        lat, lon = float(match.group(1)), float(match.group(2))
        if -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0):
            return [lat, lon]
    return None
