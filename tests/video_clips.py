"""Video clips for the tests, encoded here with PyAV's real encoders (FFmpeg's libx264,
libx265, libvpx-vp9) from scenes whose content is known, and the hostile ones built byte by
byte: a Matroska header that declares a 100,000 x 100,000 frame, a MOV with 10,000 tracks,
a truncated clip."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from anagnorisisd.app.shapes import Scene, draw

CODECS = {"h264": ("libx264", "yuv420p"), "hevc": ("libx265", "yuv420p"),
          "vp9": ("libvpx-vp9", "yuv420p")}


def shape_scene(colour: str, shape: str, background: str, width: int = 480,
                height: int = 270) -> Scene:
    return Scene(colour, shape, background, (0.5, 0.5), 0.55, 10.0, width, height)


def encode(path: Path, frames: Sequence[Image.Image], fps: int = 25, codec: str = "h264",
           rotation: int = 0, metadata: dict[str, str] | None = None,
           container_format: str | None = None) -> Path:
    """Frames into a real clip; `metadata` as QuickTime mdta keys (as an iPhone writes
    them) for a .mov."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "use_metadata_tags"} if path.suffix.lower() == ".mov" else {}
    width, height = frames[0].size
    with av.open(str(path), "w", format=container_format, options=options) as out:
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        name, pix_fmt = CODECS[codec]
        stream = out.add_stream(name, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "hevc":
            stream.options = {"x265-params": "log-level=error"}
        if codec == "vp9":
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        if rotation:
            stream.set_display_rotation(rotation)
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_image(image.convert("RGB"))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def scenes_clip(path: Path, scenes: Sequence[Scene], seconds_each: float = 3.0, fps: int = 25,
                codec: str = "h264", rotation: int = 0,
                metadata: dict[str, str] | None = None) -> Path:
    """Each scene for `seconds_each`, its shape drifting a little (a moving subject, one
    scene), so the moment a search should find is known."""
    rng = np.random.default_rng(7)
    frames = []
    per_scene = round(seconds_each * fps)
    for scene in scenes:
        drawn = draw(scene, rng)
        for k in range(per_scene):
            shifted = replace(scene, centre=(0.5 + 0.05 * np.sin(k / 8), 0.5))
            frames.append(draw(shifted, np.random.default_rng(7)) if k % 5 == 0 else drawn)
            if k % 5 == 0:
                drawn = frames[-1]
    return encode(path, frames, fps, codec, rotation, metadata)


def ebml(element_id: int, payload: bytes) -> bytes:
    """One EBML element: its id, its size as an 8-byte vint, its payload."""
    size = len(payload) | (1 << 56)
    id_bytes = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return id_bytes + size.to_bytes(8, "big") + payload


def uint(element_id: int, value: int) -> bytes:
    return ebml(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def huge_frame_mkv(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A Matroska file whose one video track declares `width` x `height` frames, with one
    tiny MJPEG block: a decoder that trusted the header would allocate 30 GB."""
    header = ebml(0x1A45DFA3, ebml(0x4282, b"matroska") + uint(0x4287, 4) + uint(0x4285, 2))
    video = ebml(0xE0, uint(0xB0, width) + uint(0xBA, height))
    track = ebml(0xAE, uint(0xD7, 1) + uint(0x83, 1) + ebml(0x86, b"V_MJPEG") + video)
    info = ebml(0x1549A966, uint(0x2AD7B1, 1_000_000) + ebml(0x4D80, b"test"))
    jpeg = _tiny_jpeg()
    block = ebml(0xA3, b"\x81" + struct.pack(">h", 0) + b"\x80" + jpeg)
    cluster = ebml(0x1F43B675, uint(0xE7, 0) + block)
    segment = ebml(0x18538067, info + ebml(0x1654AE6B, track) + cluster)
    path.write_bytes(header + segment)
    return path


def _tiny_jpeg() -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, payload) of each ISO BMFF box in `data`, in order."""
    out, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        out.append((kind, data[at + 8 : at + size]))
        at += size
    return out


def many_tracks_mov(path: Path, source: Path, tracks: int = 10_000) -> Path:
    """`source` (a real one-track MOV, its movie box after its media data, as FFmpeg writes
    it) with its track repeated `tracks` times, each with its own id: every track valid,
    each pointing at the same samples."""
    top = boxes(source.read_bytes())
    out = b""
    for kind, payload in top:
        if kind != b"moov":
            out += box(kind, payload)
            continue
        inner = boxes(payload)
        trak = next(p for k, p in inner if k == b"trak")
        rest = b"".join(box(k, p) for k, p in inner if k != b"trak")
        copies = []
        for number in range(1, tracks + 1):
            parts = boxes(trak)
            tkhd = next(p for k, p in parts if k == b"tkhd")
            tkhd = tkhd[:12] + struct.pack(">I", number) + tkhd[16:]
            copies.append(box(b"trak", b"".join(box(k, tkhd if k == b"tkhd" else p)
                                                for k, p in parts)))
        out += box(b"moov", rest + b"".join(copies))
    path.write_bytes(out)
    return path


def apple_maker_note(identifier: str) -> bytes:
    """An iPhone's MakerNote as Apple writes it ("Apple iOS", version 1, big-endian), with
    the Live Photo content identifier (tag 0x11) and one other entry before it."""
    text = identifier.encode() + b"\0"
    entries = 2
    data_at = 16 + 12 * entries + 4
    body = struct.pack(">HHI4s", 0x0001, 9, 1, struct.pack(">i", 14))
    body += struct.pack(">HHII", 0x0011, 2, len(text), data_at)
    return (b"Apple iOS\0" + b"\0\x01" + b"MM" + struct.pack(">H", entries) + body
            + b"\0\0\0\0" + text)


def live_still(path: Path, image: Image.Image, identifier: str, taken: str) -> Path:
    """A still as an iPhone writes it: HEIC, its capture time, Apple's MakerNote with the
    Live Photo identifier."""
    from PIL import Image as PILImage

    from anagnorisisd.imaging import formats

    formats.register()
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = PILImage.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 15"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = taken
    sub[0x927C] = apple_maker_note(identifier)
    image.convert("RGB").save(path, "HEIF" if path.suffix.lower() == ".heic" else "JPEG",
                              exif=exif.tobytes())
    return path


def iphone_tags(identifier: str, created: str, iso6709: str | None = None) -> dict[str, str]:
    """The QuickTime keys an iPhone writes in a Live Photo's MOV (and in its clips)."""
    tags = {"com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15",
            "com.apple.quicktime.creationdate": created,
            "com.apple.quicktime.content.identifier": identifier}
    if iso6709:
        tags["com.apple.quicktime.location.ISO6709"] = iso6709
    return tags
