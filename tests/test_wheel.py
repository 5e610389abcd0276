"""The built wheel works anywhere: installed (not editable) into a fresh venv outside the
repository, `anagnorisisd demo` and `serve` give a working panel, search and thumbnails.

The dependencies are not downloaded again: the fresh venv sees the test venv's
site-packages through a .pth line (which does not run the editable install's own
.pth hook), so anagnorisisd itself can only come from the wheel, and the test checks
that it does.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

from tests.helpers import REPO, free_port, wait_until


def test_the_wheel_installs_and_runs_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-w", str(dist), str(REPO)], check=True,
                           timeout=300, cwd=tmp_path, capture_output=True, text=True)
    # `make run` installs the same way: not one packaging warning for a new user to read
    said = built.stdout + built.stderr
    for warning in ("BuildBackendWarning", "SetuptoolsDeprecationWarning", "is absent from"):
        assert warning not in said, said
    (wheel,) = dist.glob("anagnorisisd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops <= {"anagnorisisd", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}"
                    ".dist-info"}, tops  # nothing with a generic name at the top
    for needed in ("anagnorisisd/panel/index.html", "anagnorisisd/panel/app.js",
                   "anagnorisisd/builtin/clip_stage.py",
                   "anagnorisisd/ml/shipped/shapes-clip-mini/visual/model.onnx",
                   "anagnorisisd/ml/shipped/shapes-clip-mini/textual/tokenizer.json",
                   "anagnorisisd/features/albums/panel.js",
                   "anagnorisisd/features/places/panel.js",
                   "anagnorisisd/features/places/vendor/leaflet.js",
                   "anagnorisisd/features/places/vendor/countries-110m.json",
                   "anagnorisisd/features/places/vendor/LICENSE-leaflet"):
        assert needed in names, needed
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "anagnorisisd.builtin.hash_stage:HashStage" in entry_points

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300, cwd=tmp_path)
    venv_site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    (venv_site / "test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(python), "-c", "import anagnorisisd; print(anagnorisisd.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout  # the wheel's copy, not the repo's

    cli = str(venv / "bin" / "anagnorisisd")
    port = free_port()
    demo = subprocess.run([cli, "demo", str(tmp_path / "demo"), "--count", "40", "--port",
                           str(port)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr
    log = (tmp_path / "serve.log").open("wb")
    # The README's sequence, typed where a new user is: inside the clone, whose source tree
    # must not shadow the installed package (serve re-executes itself with `python -m`).
    server = subprocess.Popen([cli, "serve", "--config", str(tmp_path / "demo" / "config.toml")],
                              stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, bytes, str]:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return response.status, response.read(), response.headers["Content-Type"]

    def ready() -> bool:
        try:
            status = json.loads(get("/api/status")[1])
        except OSError:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            return False
        return bool(status["stages"]["clip"]["done"] == 40)

    try:
        wait_until(ready, timeout=180, interval=0.5)
        code, page, _ = get("/")
        assert code == 200 and b"anagnorisisd" in page
        for script in ("app.js", "images.js", "api.js", "style.css"):
            assert get(f"/ui/{script}")[0] == 200
        results = json.loads(get("/api/images?q=red%20circle&per_page=5")[1])
        assert results["total"] > 0 and results["items"][0]["score"] is not None
        code, thumb, mime = get(f"/api/images/{results['items'][0]['id']}/thumbnail")
        assert code == 200 and mime == "image/jpeg" and thumb[:2] == b"\xff\xd8"
    finally:
        server.terminate()
        server.wait(60)
        time.sleep(0.1)
