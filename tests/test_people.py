"""People from real photos of real people, through a loopback immich worker with real
weights (dlib's detector and descriptor, tests/dlib_faces.py), into a real daemon.

The material: face-api's six demo photos (22 faces counted by hand: 3, 3, 3, 4, 5, 4;
some turned away or half hidden), each also as a JPEG re-encoding at quality 50, a 70 %
rescale and a 90 % crop, so every face is seen four times; scikit-image's coffee as a
photo with no face. That is where the material runs out: the six photos show different
people, so "the same person in two different photos" is only tested through derivatives.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, Worker, free_port, http_error, wait_until, write_config
from tools.npm_files import FACE_API_PHOTOS

ROOT = Path(__file__).resolve().parent.parent
FACES_BY_HAND = [3, 3, 3, 4, 5, 4]
CROP = 0.05


def build_library(folder: Path) -> dict[str, tuple[int, float, tuple[float, float]]]:
    """Photos and, for each, (source photo, scale, offset) back to the source's pixels."""
    from skimage import data

    folder.mkdir(parents=True)
    made: dict[str, tuple[int, float, tuple[float, float]]] = {}
    for number, path in enumerate(FACE_API_PHOTOS.fetch(ROOT / ".venv" / "npm"), 1):
        with Image.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((1440, 1440))
        w, h = img.size
        img.save(folder / f"p{number}.jpg", quality=92)
        made[f"p{number}.jpg"] = (number, 1.0, (0.0, 0.0))
        img.save(folder / f"p{number}-q50.jpg", quality=50)
        made[f"p{number}-q50.jpg"] = (number, 1.0, (0.0, 0.0))
        img.resize((int(w * 0.7), int(h * 0.7)), Image.Resampling.BICUBIC).save(
            folder / f"p{number}-small.jpg", quality=90)
        made[f"p{number}-small.jpg"] = (number, w / int(w * 0.7), (0.0, 0.0))
        box = (int(w * CROP), int(h * CROP), int(w * (1 - CROP)), int(h * (1 - CROP)))
        img.crop(box).save(folder / f"p{number}-crop.jpg", quality=90)
        made[f"p{number}-crop.jpg"] = (number, 1.0, (float(box[0]), float(box[1])))
    Image.fromarray(data.coffee()).save(folder / "coffee.jpg", quality=90)
    return made


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("people")
    made = build_library(tmp / "library")
    worker = Worker("normal", 0.0, None, "--faces", "buffalo_l")
    shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                    tmp / "data" / "models" / "shapes-clip-mini")
    config = write_config(tmp / "config.toml", {
        "library": {"paths": [str(tmp / "library")]},
        "storage": {"data_dir": str(tmp / "data")}, "server": {"port": free_port()},
        "model": {"name": "shapes-clip-mini", "auto_pull": False,
                  "remote_urls": [worker.url]},
        "stages.faces": {"backend": "remote"}})
    port = tomllib.loads(config.read_text())["server"]["port"]
    state = {"daemon": Daemon(config, port), "made": made, "tmp": tmp, "config": config,
             "port": port, "worker": worker}
    try:
        wait_until(lambda: state["daemon"].request("GET", "/api/people")["summary"][
            "photos_looked_at"] == len(made) + 1, timeout=240, interval=0.5)
        yield state
    finally:
        state["daemon"].kill()  # the one running now: a test restarts it
        worker.kill()


def ids_by_name(daemon: Daemon) -> dict[str, str]:
    items = daemon.request("GET", "/api/images?per_page=500")["items"]
    return {Path(i["path"]).name: i["id"] for i in items}


def identities(daemon: Daemon, made: dict[str, Any]) -> dict[str, str]:
    """Each face's identity: the face of the original photo its centre falls nearest to,
    back in the original's pixels (within half a face), else a face of its own."""
    centres: dict[str, list[tuple[float, float, float]]] = {}
    placed: dict[str, tuple[int, float, float, float]] = {}
    for name, image_id in ids_by_name(daemon).items():
        if name not in made:
            continue
        number, scale, (dx, dy) = made[name]
        for face in daemon.request("GET", f"/api/images/{image_id}/faces")["faces"]:
            x1, y1, x2, y2 = face["box"]
            centre = ((x1 + x2) / 2 * scale + dx, (y1 + y2) / 2 * scale + dy,
                      (x2 - x1) * scale)
            placed[face["id"]] = (number, *centre)
            if name == f"p{number}.jpg":
                centres.setdefault(str(number), []).append(centre)
    out = {}
    for fid, (number, cx, cy, _) in placed.items():
        options = centres.get(str(number), [])
        best = min(range(len(options)), default=None,
                   key=lambda k: (options[k][0] - cx) ** 2 + (options[k][1] - cy) ** 2)
        if best is not None and np.hypot(options[best][0] - cx,
                                         options[best][1] - cy) < options[best][2] / 2:
            out[fid] = f"{number}:{best}"
        else:
            out[fid] = fid
    return out


def search(daemon: Daemon, query: str) -> dict[str, Any]:
    return dict(daemon.request("GET", "/api/images?per_page=100&q=" + quote(query)))


def regroup(daemon: Daemon) -> dict[str, Any]:
    before = daemon.request("GET", "/api/people")["summary"]["grouping"].get("last")
    assert daemon.call("POST", "/api/people/regroup")[0] == 202
    return dict(wait_until(lambda: (lambda g: g["state"] == "idle" and g.get("last") != before
                                    and g["last"])(
        daemon.request("GET", "/api/people")["summary"]["grouping"]), timeout=60))


def test_real_faces_are_found_and_grouped_into_their_people(world: Any) -> None:
    from sklearn.metrics import completeness_score, homogeneity_score

    daemon, made = world["daemon"], world["made"]
    ids = ids_by_name(daemon)
    found = [len(daemon.request("GET", f"/api/images/{ids[f'p{n}.jpg']}/faces")["faces"])
             for n in range(1, 7)]
    recall = sum(min(f, h) for f, h in zip(found, FACES_BY_HAND, strict=True)) / 22
    assert recall >= 0.8, found
    coffee = daemon.request("GET", f"/api/images/{ids['coffee.jpg']}/faces")
    assert coffee == {"faces": [], "looked": True}  # no face is a result, not a failure
    regroup(daemon)
    truth = identities(daemon, made)
    people = daemon.request("GET", "/api/people")["people"]
    assert people and people == sorted(people, key=lambda p: -p["faces"])
    person_of = {}
    for person in people:
        for face in daemon.request("GET", f"/api/people/{person['id']}")["face_list"]:
            person_of[face["id"]] = person["id"]
    grouped = [fid for fid in truth if fid in person_of]
    assert len(grouped) >= 0.7 * len(truth)
    labels = [truth[f] for f in grouped]
    found_people = [person_of[f] for f in grouped]
    assert homogeneity_score(labels, found_people) >= 0.9  # purity: one person per group
    assert completeness_score(labels, found_people) >= 0.85  # each face's copies together


def test_a_named_person_is_searchable_and_survives_regrouping_moves_and_restarts(
        world: Any) -> None:
    daemon = world["daemon"]
    regroup(daemon)
    biggest = daemon.request("GET", "/api/people")["people"][0]
    named = daemon.request("PUT", f"/api/people/{biggest['id']}", {"name": "Ana"})
    assert named["name"] == "Ana"
    hits = search(daemon, 'person:"ana"')
    assert hits["total"] == named["photos"] >= 3
    both = search(daemon, 'person:Ana faces>=2 width>=900')
    assert 0 < both["total"] <= hits["total"]
    assert search(daemon, "faces:0")["total"] == 1  # the coffee
    assert search(daemon, 'person:"Nobody"')["total"] == 0
    unnamed = search(daemon, "unnamed:")["total"]
    assert unnamed >= 1
    regroup(daemon)  # a fresh grouping keeps the person (by majority) and so the name
    assert search(daemon, 'person:Ana')["total"] == hits[
        "total"]
    # rename one of Ana's photos: content-keyed, she is still in it (moves into new
    # folders are the watcher's business, tested in tests/test_watch_api.py)
    first = Path(search(daemon, 'person:Ana')["items"][0]["path"])
    moved = first.with_name("renamed-" + first.name)
    first.rename(moved)
    wait_until(lambda: any(i["path"] == str(moved) for i in search(
        daemon, "person:Ana")["items"]), timeout=60)
    daemon.kill()  # kill -9: nothing acknowledged may be lost
    world["daemon"] = daemon = Daemon(world["config"], world["port"])
    wait_until(lambda: search(daemon, 'person:Ana')[
        "total"] == hits["total"], timeout=60)


def test_the_person_sort_puts_each_persons_photos_together(world: Any) -> None:
    daemon = world["daemon"]
    people = wait_until(lambda: (lambda p: p if len(p) >= 2 else None)(
        daemon.request("GET", "/api/people")["people"]), timeout=60)
    daemon.request("PUT", f"/api/people/{people[1]['id']}", {"name": "Aaron"})
    aaron = {i["id"] for i in search(daemon, "person:Aaron")["items"]}
    assert aaron
    for query in ("person", "person order:asc"):
        names = [(i["id"], Path(i["path"]).name) for i in search(daemon, query)["items"]]
        ids = [i for i, _ in names]
        spots = sorted(ids.index(i) for i in aaron)
        assert spots == list(range(spots[0], spots[0] + len(aaron))), query  # together
        assert ids.index(next(i for i, n in names if n == "coffee.jpg")) > spots[-1]
    first = [i["id"] for i in search(daemon, "person")["items"][:len(aaron)]]
    assert set(first) == aaron  # "Aaron" sorts before every other name given here


def test_eyes_and_focus_of_every_face_are_measured_and_searchable(world: Any) -> None:
    daemon = world["daemon"]
    by_name = ids_by_name(daemon)  # another test may have renamed a photo "renamed-…"
    ids = {name.removeprefix("renamed-"): image for name, image in by_name.items()}

    def measured(name: str) -> list[dict[str, Any]] | None:
        faces = daemon.request("GET", f"/api/images/{ids[name]}/faces")["faces"]
        done = faces and all(f["sharpness"] is not None for f in faces)
        return list(faces) if done else None

    open_eyes = wait_until(lambda: measured("p3.jpg"), timeout=120)
    assert all(f["eyes"] == "open" and not f["blurry"] for f in open_eyes), open_eyes
    downcast = wait_until(lambda: measured("p2.jpg"), timeout=120)
    assert any(f["eyes"] == "closed" for f in downcast), downcast  # lids lowered
    wait_until(lambda: ids["p2.jpg"] in {i["id"] for i in search(daemon, "eyes:closed")[
        "items"]}, timeout=60)
    shut = {i["id"] for i in search(daemon, "eyes:closed")["items"]}
    assert ids["p3.jpg"] not in shut and ids["coffee.jpg"] not in shut
    assert ids["p3.jpg"] in {i["id"] for i in search(daemon, "eyes:open")["items"]}
    assert ids["p3.jpg"] in {i["id"] for i in search(daemon, "face:sharp person")["items"]}
    assert http_error(daemon, "GET", "/api/images?q=" + quote("eyes:maybe"))[0] == 400


def test_a_face_moved_out_stays_out_and_bad_edits_are_clear_4xx(world: Any) -> None:
    daemon = world["daemon"]
    wait_until(lambda: daemon.request("GET", "/api/people")["people"], timeout=60)
    person = daemon.request("GET", "/api/people")["people"][0]
    face = daemon.request("GET", f"/api/people/{person['id']}")["face_list"][0]
    out = daemon.request("PUT", f"/api/faces/{face['id']}", {"person": None})
    assert out["person"] is None
    regroup(daemon)
    assert daemon.request("GET", f"/api/images/{face['image']}/faces")["faces"][
        [f["id"] for f in daemon.request("GET", f"/api/images/{face['image']}/faces")[
            "faces"]].index(face["id"])]["person"] is None
    other = daemon.request("POST", "/api/people", {"name": "Stranger", "faces": [face["id"]]})
    assert other["faces"] == 1 and other["name"] == "Stranger"
    merged = daemon.request("POST", f"/api/people/{other['id']}/merge", {"into": person["id"]})
    assert merged["id"] == person["id"] and merged["faces"] == person["faces"]
    crop = daemon.proc and __import__("urllib.request").request.urlopen(
        f"http://127.0.0.1:{daemon.port}/api/faces/{face['id']}/crop", timeout=30)
    assert crop.headers["Content-Type"] == "image/jpeg" and len(crop.read()) > 1000
    assert http_error(daemon, "GET", "/api/people/000000000000")[0] == 404
    assert http_error(daemon, "PUT", f"/api/people/{person['id']}", {"name": 7})[0] == 400
    assert http_error(daemon, "PUT", f"/api/people/{person['id']}", {"name": "x" * 300})[0] == 400
    assert http_error(daemon, "POST", f"/api/people/{person['id']}/merge",
                      {"into": person["id"]})[0] == 409  # the people as they are refuse it
    assert http_error(daemon, "PUT", f"/api/faces/{'0' * 64}-0", {"person": None})[0] == 404
    count = len(daemon.request("GET", "/api/people")["people"])
    assert http_error(daemon, "POST", "/api/people",
                      {"name": "Ghost", "faces": [f"{'0' * 64}-0"]})[0] == 404
    assert len(daemon.request("GET", "/api/people")["people"]) == count  # no empty person
    assert http_error(daemon, "GET", "/api/images?q=" + quote("faces:many"))[0] == 400


def test_a_worker_that_lies_about_boxes_is_refused_with_its_reason(tmp_path: Path) -> None:
    from anagnorisisd.ml.remote_faces import RemoteFaces
    from anagnorisisd.ml.remote_protocol import RemoteError, jpeg
    from anagnorisisd.ml.remote_worker import Worker as State

    liar = Worker("outside", 0.0, None, "--faces", "buffalo_l")
    try:
        faces = RemoteFaces("buffalo_l", [liar.url], None, timeout_s=30)
        with pytest.raises(RemoteError, match="outside"):  # its probe: never trusted
            faces._check(State(liar.url))
        garbage = RemoteFaces("buffalo_l", [liar.url], None, timeout_s=30)
        liar.set_mode("garbage")
        with pytest.raises(Exception, match="garbage"):
            garbage._ask(State(liar.url), jpeg(Image.new("RGB", (64, 64))), (64, 64), 0.7,
                         None)
    finally:
        liar.kill()


def test_the_people_command_lists_and_names(world: Any) -> None:
    from tests.helpers import run_cli

    daemon = world["daemon"]
    person = wait_until(lambda: daemon.request("GET", "/api/people")["people"], timeout=60)[0]
    named = run_cli("people", "--config", str(world["config"]), "name", person["id"], "Ben")
    assert named.returncode == 0 and "Ben" in named.stdout, named.stderr
    listing = run_cli("people", "--config", str(world["config"]))
    assert listing.returncode == 0 and f"{person['id']}  Ben" in listing.stdout
    assert "grouped" in listing.stdout
    wrong = run_cli("people", "--config", str(world["config"]), "name", "zzz", "X")
    assert wrong.returncode != 0 and "no such person" in wrong.stderr


def test_the_people_page_names_a_person_and_moves_a_face_out_in_chromium(world: Any) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_web_ui import CHROMIUM, serious_violations

    daemon = world["daemon"]
    base = f"http://127.0.0.1:{daemon.port}"
    wait_until(lambda: len(daemon.request("GET", "/api/people")["people"]) >= 2, timeout=60)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/people")
            first = page.get_by_test_id("person").first
            first.wait_for()
            pid = first.get_attribute("data-id")
            assert serious_violations(page) == []
            box = first.get_by_test_id("person-name")
            box.fill("Carla")
            box.press("Enter")
            wait_until(lambda: daemon.request("GET", f"/api/people/{pid}")["name"] == "Carla",
                       timeout=15)
            page.reload()
            page.get_by_test_id("person-name").first.wait_for()
            assert "Carla" in [i.input_value() for i in page.get_by_test_id("person-name").all()]
            page.locator(f'[data-id="{pid}"] [data-testid=person-link]').click()
            page.get_by_test_id("person-title").filter(has_text="Carla").wait_for()
            faces = page.get_by_test_id("person-face")
            before = faces.count()
            assert before >= 1 and serious_violations(page) == []
            page.get_by_test_id("not-this-person").first.focus()
            page.keyboard.press("Enter")  # from the keyboard
            page.wait_for_function(f"() => document.querySelectorAll("
                                   f"'[data-testid=person-face]').length === {before - 1}")
            wait_until(lambda: daemon.request("GET", f"/api/people/{pid}")["faces"] ==
                       before - 1, timeout=15)
        finally:
            browser.close()


def test_the_viewer_shows_face_boxes_on_the_faces_and_names_one_by_a_click(
        world: Any) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_web_ui import CHROMIUM, serious_violations

    daemon = world["daemon"]
    base = f"http://127.0.0.1:{daemon.port}"
    shown = search(daemon, "faces>=3")["items"]
    assert shown
    faces = daemon.request("GET", f"/api/images/{shown[0]['id']}/faces")["faces"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/?q=" + quote("faces>=3"))
            page.get_by_test_id("result-tile").first.locator("button.open").click()
            page.get_by_test_id("viewer").wait_for()
            page.wait_for_function("() => document.getElementById('viewer-image').complete")
            page.keyboard.press("f")
            boxes = page.get_by_test_id("face-box")
            boxes.nth(len(faces) - 1).wait_for()
            assert boxes.count() == len(faces)
            assert serious_violations(page) == []
            # each box lands where the stored box is, scaled to the photo as shown
            image = page.locator("#viewer-image").bounding_box()
            assert image is not None
            width, height = shown[0]["width"], shown[0]["height"]
            for face in faces:
                box = page.locator(f'[data-face="{face["id"]}"]').bounding_box()
                assert box is not None
                assert abs(box["x"] - (image["x"] + face["box"][0] * image["width"] / width)) < 3
                assert abs(box["y"] - (image["y"] + face["box"][1] * image["height"] / height)) < 3
            target = faces[-1]
            page.locator(f'[data-face="{target["id"]}"]').click()
            picker = page.get_by_test_id("person-picker")
            picker.wait_for()
            assert serious_violations(page) == []
            page.get_by_test_id("picker-input").fill("Dora")
            page.get_by_test_id("picker-input").press("Enter")
            page.locator(f'[data-face="{target["id"]}"]').filter(has_text="Dora").wait_for()
            assert any(f["name"] == "Dora" for f in daemon.request(
                "GET", f"/api/images/{shown[0]['id']}/faces")["faces"])
        finally:
            browser.close()


def test_every_correction_in_chromium_then_a_regroup_and_a_kill(world: Any) -> None:
    """Name a face with a name someone has, move a face from the keyboard, "not this
    person", merge, a name already taken, undo; then a regroup and kill -9: every
    correction stays, and no two people ever share a name."""
    from playwright.sync_api import sync_playwright

    from tests.test_web_ui import CHROMIUM, serious_violations

    daemon = world["daemon"]
    base = f"http://127.0.0.1:{daemon.port}"

    def person(pid: str) -> dict[str, Any]:
        return dict(daemon.request("GET", f"/api/people/{pid}"))

    def named(name: str) -> list[dict[str, Any]]:
        return [p for p in daemon.request("GET", "/api/people")["people"]
                if (p["name"] or "").lower() == name.lower()]

    free = wait_until(lambda: (lambda ps: ps if len(ps) >= 2 else None)(
        [p for p in daemon.request("GET", "/api/people")["people"]
         if p["name"] is None and p["faces"] >= 3]), timeout=60)
    leonard, penny = free[0]["id"], free[1]["id"]
    answers: list[bool] = []  # what the next confirm() is answered
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: d.accept() if answers.pop(0) else d.dismiss())

            def card(pid: str) -> Any:
                return page.locator(f'[data-testid=person][data-id="{pid}"]')

            def pick(text: str) -> None:
                page.get_by_test_id("person-picker").wait_for()
                page.get_by_test_id("picker-input").fill(text)
                page.get_by_test_id("picker-input").press("Enter")
                page.get_by_test_id("person-picker").wait_for(state="detached")

            page.goto(base + "/people")
            for pid, name in ((leonard, "Leonard"), (penny, "Penny")):
                card(pid).get_by_test_id("person-name").fill(name)
                card(pid).get_by_test_id("person-name").press("Enter")
                wait_until(lambda pid=pid, name=name: person(pid)["name"] == name, timeout=15)
            sizes = {leonard: person(leonard)["faces"], penny: person(penny)["faces"]}

            # A face of Penny's, named "leonard" in the viewer: it joins Leonard (after one
            # confirmation), and there is still one Leonard.
            face = person(penny)["face_list"][-1]
            page.goto(base + "/?q=" + quote("person:Penny"))
            page.locator(f'[data-testid=result-tile][data-id="{face["image"]}"] button.open'
                         ).click()
            page.get_by_test_id("viewer").wait_for()
            page.keyboard.press("f")
            page.locator(f'[data-face="{face["id"]}"]').click()
            answers.append(True)
            pick("leonard")
            page.locator(f'[data-face="{face["id"]}"]').filter(has_text="Leonard").wait_for()
            assert len(named("Leonard")) == 1 and person(leonard)["faces"] == sizes[leonard] + 1
            assert serious_violations(page) == []
            page.keyboard.press("Escape")

            # Leonard's page lists that face first (the least alike); M moves it back.
            page.goto(base + f"/people/{leonard}")
            first = page.get_by_test_id("person-face").first
            first.wait_for()
            assert first.get_attribute("data-face") == face["id"]
            assert serious_violations(page) == []
            first.focus()
            page.keyboard.press("m")
            pick("pen")
            wait_until(lambda: person(penny)["faces"] == sizes[penny], timeout=15)
            # N: not this person, from the keyboard, and the focus moves on
            page.get_by_test_id("person-face").first.focus()
            gone = page.get_by_test_id("person-face").first.get_attribute("data-face")
            page.keyboard.press("n")
            wait_until(lambda: person(leonard)["faces"] == sizes[leonard] - 1, timeout=15)
            page.locator(f'[data-face="{gone}"]').wait_for(state="detached")
            assert page.evaluate("document.activeElement.dataset.testid") == "person-face"

            # A name someone has: refused, and the merge it offers can be declined.
            page.goto(base + "/people")
            answers.append(False)
            card(penny).get_by_test_id("person-name").fill("LEONARD")
            card(penny).get_by_test_id("person-name").press("Enter")
            page.wait_for_function("() => document.querySelector("
                                   f"'[data-id=\"{penny}\"] [data-testid=person-name]')"
                                   ".value === 'Penny'")
            assert person(penny)["name"] == "Penny" and len(named("Leonard")) == 1
            # Merge Penny into Leonard with the picker; then undo it from the page.
            card(penny).get_by_test_id("person-merge").click()
            assert serious_violations(page) == []
            pick("leon")
            wait_until(lambda: person(leonard)["faces"] == sizes[leonard] - 1 + sizes[penny],
                       timeout=15)
            assert http_error(daemon, "GET", f"/api/people/{penny}")[0] == 404
            page.get_by_test_id("people-undo").filter(has_text="merged Penny").click()
            wait_until(lambda: http_error(daemon, "GET", f"/api/people/{penny}")[0] == 200,
                       timeout=15)
            assert person(penny)["faces"] == sizes[penny] and person(penny)["name"] == "Penny"
        finally:
            browser.close()
    kept = {pid: (person(pid)["name"], person(pid)["faces"]) for pid in (leonard, penny)}
    regroup(daemon)
    assert {pid: (person(pid)["name"], person(pid)["faces"]) for pid in kept} == kept
    daemon.kill()  # kill -9
    world["daemon"] = daemon = Daemon(world["config"], world["port"])
    wait_until(lambda: daemon.request("GET", "/api/people")["summary"]["faces"] > 0,
               timeout=60)
    assert {pid: (person(pid)["name"], person(pid)["faces"]) for pid in kept} == kept
