"""Videos through the pipeline against their floor, and photos while videos are queued.

Run: make bench-video   (or: .venv/bin/python bench/bench_video.py [--quick])

The clips are encoded here with libx264 (PyAV) from real photographs (scikit-image's),
each a slow pan over four scenes, at a phone's 1080p and 30 fps:

- "phone": a keyframe every second, as phones write them;
- "camera": x264's defaults (a keyframe every 250 frames, and at cuts), where the look
  decodes toward each moment.

The floor for a clip is what no indexer can avoid: BLAKE3 of the file, a bare PyAV decode of
exactly the frames the look chose (opened by path, one seek each, and the frames from the
keyframe before each one up to it where it is not a keyframe itself), the bare ONNX Runtime
session on its scenes, and one JPEG encode of the poster. The pipeline runs hash, meta,
thumbnail and clip (a ViT-B/32 with random weights, at its real size: bench_clip.py).

Then photos with and without videos queued beside them: how many photos a second the
pipeline indexes while the video lane works (the goal: photos never wait behind a clip).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.builtin.hash_stage import hash_file
from bench_clip import MODEL, build_model, run_with_model, session
from photos import CACHE, photo_set
from PIL import Image

from anagnorisisd.config import build_config
from anagnorisisd.imaging import video_frames
from anagnorisisd.ingest.scanner import scan
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.service import ModelService
from anagnorisisd.pipeline.registry import assemble
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.stage import StageContext
from anagnorisisd.store.database import Store

VIDEOS = CACHE / "videos"
SIZE = (1920, 1080)
FPS = 30
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina")


def pictures() -> list[Image.Image]:
    from skimage import data

    out = []
    for name in PHOTOS:
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        out.append(image.resize((int(SIZE[0] * 1.25), int(SIZE[1] * 1.25)),
                                Image.Resampling.BICUBIC))
    return out


def make_clip(path: Path, scenes: list[Image.Image], seconds_each: float, gop: int | None
              ) -> Path:
    """Each scene panned slowly for `seconds_each`, H.264 at 1080p30."""
    import av

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp" + path.suffix)
    with av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"preset": "veryfast", **({"g": str(gop), "keyint_min": str(gop),
                                                     "sc_threshold": "0"} if gop else {})}
        frames = round(seconds_each * FPS)
        for scene in scenes:
            spare_x, spare_y = scene.width - SIZE[0], scene.height - SIZE[1]
            for k in range(frames):
                x, y = round(spare_x * k / frames), round(spare_y * k / (2 * frames))
                view = scene.crop((x, y, x + SIZE[0], y + SIZE[1]))
                for packet in stream.encode(av.VideoFrame.from_image(view)):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    os.replace(tmp, path)
    return path


def corpus(kind: str, count: int, seconds_each: float) -> list[Path]:
    shots = pictures()
    made = []
    for n in range(count):
        scenes = [shots[(n + k) % len(shots)] for k in range(4)]
        made.append(make_clip(VIDEOS / f"{kind}-{n:02d}.mp4", scenes, seconds_each,
                              FPS if kind == "phone" else None))
    return made


def bare_floor(clips: list[Path], models: ModelService) -> tuple[float, float, float, int]:
    """Seconds of: hashing, decoding exactly the frames the look chose, the bare session on
    the scenes; and how many frames that decode is."""
    import av

    model = models.model()
    need = model.pixel_need()
    sess = session(ModelFiles(MODEL.name, MODEL).visual)
    hash_s = decode_s = session_s = 0.0
    frames = 0
    for clip in clips:
        start = time.perf_counter()
        hash_file(str(clip))
        hash_s += time.perf_counter() - start
        looked = video_frames.sample(str(clip), need.shortest, need.longest)
        start = time.perf_counter()
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            keyframes_only = looked.decoded == len(looked.looked)
            stream.codec_context.skip_frame = "NONKEY" if keyframes_only else "DEFAULT"
            base = float(stream.time_base)
            for at in looked.looked:  # each chosen frame, decoded from its keyframe
                container.seek(round(at / base) + 1, stream=stream, backward=True)
                for frame in container.decode(stream):
                    frames += 1
                    if keyframes_only or frame.time >= at - 0.5 / FPS:
                        break
                frame.to_ndarray(width=max(1, SIZE[0] * 224 // SIZE[1]), height=224,
                                 format="rgb24")
            poster = looked.poster_moment.image
            poster.copy().thumbnail((320, 320))
            poster.save(io.BytesIO(), "JPEG", quality=85)
        decode_s += time.perf_counter() - start
        tensors = np.stack([model.prepare(m.image) for m in looked.moments])
        start = time.perf_counter()
        sess.run(["embedding"], {"image": tensors})
        session_s += time.perf_counter() - start
    return hash_s, decode_s, session_s, frames


def photos_while_videos(photos: list[Path], clips: list[Path]) -> float:
    """Seconds until every photo is indexed, with `clips` queued at the same moment."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        library = Path(tmp) / "library"
        for folder, files in (("photos", photos), ("videos", clips)):
            (library / folder).mkdir(parents=True)
            for f in files:
                os.link(f, library / folder / f.name)
        config = build_config({"storage": {"data_dir": str(Path(tmp) / "data")},
                               "pipeline": {"stages": ["hash", "meta", "thumbnail", "clip"]},
                               "model": {"name": MODEL.name, "auto_pull": False,
                                         "providers": ["CPUExecutionProvider"]}})
        config.models_dir.mkdir(parents=True)
        shutil.copytree(MODEL, config.models_dir / MODEL.name, copy_function=os.link)
        models = ModelService(config, auto_pull=False)
        assert models.load(), models.problem
        store = Store(config.data_dir)
        pipeline = Pipeline(store, assemble(config, StageContext(config, models)),
                            config.pipeline.queue_size)
        wanted = [str(library / "photos" / f.name) for f in photos]
        start = time.perf_counter()
        pipeline.start()
        scan(store, [str(library)], config.library.extensions)
        pipeline.wake()
        while not all((r := store.get_file(p)) is not None and r.state == "done"
                      for p in wanted):
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        pipeline.stop()
        store.close()
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer, shorter clips")
    args = parser.parse_args()
    build_model()
    count, seconds_each = (3, 3.0) if args.quick else (8, 5.0)
    sets = {"phone": corpus("phone", count, seconds_each),
            "camera": corpus("camera", count, seconds_each)}
    config = build_config({"storage": {"data_dir": str(CACHE)},
                           "model": {"name": MODEL.name, "providers": ["CPUExecutionProvider"]}})
    models = ModelService(config, auto_pull=False)
    assert models.load(), models.problem
    print(f"\n{os.cpu_count()} cores; clips of 1080p30 H.264, four scenes of "
          f"{seconds_each:.0f} s each; ViT-B/32 (random weights)\n")
    print("| clips | footage | pipeline | footage per minute | floor: hash + chosen "
          "frames + session | pipeline against the floor |")
    print("|---|---:|---:|---:|---|---:|")
    for kind, clips in sets.items():
        footage = len(clips) * 4 * seconds_each
        pipe_s, _ = run_with_model(clips, {})
        hash_s, decode_s, session_s, frames = bare_floor(clips, models)
        floor = hash_s + decode_s + session_s
        print(f"| {len(clips)} {kind} | {footage:.0f} s | {pipe_s:.2f} s | "
              f"{footage / 60 / pipe_s * 60:.1f} min | {floor:.2f} s ({hash_s:.2f} + "
              f"{decode_s:.2f} for {frames} frames + {session_s:.2f}) | {floor / pipe_s:.0%} |")
    photos = photo_set("photos-3mp", 1000, [3.0])[: 60 if args.quick else 200]
    long = [make_clip(VIDEOS / f"long-{n}.mp4", pictures()[n:n + 4], 15.0, None)
            for n in range(2)]
    alone_s = photos_while_videos(photos, [])
    beside_s = photos_while_videos(photos, long)
    print(f"\n| photos | alone | with {len(long)} one-minute clips queued at the same moment "
          "| photos' speed kept |")
    print("|---:|---:|---:|---:|")
    print(f"| {len(photos)} | {len(photos) / alone_s:.1f} photos/s | "
          f"{len(photos) / beside_s:.1f} photos/s | {alone_s / beside_s:.0%} |")
    print(f"\nclips cached in {VIDEOS}; delete it to regenerate.")


if __name__ == "__main__":
    main()
