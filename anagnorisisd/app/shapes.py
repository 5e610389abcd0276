"""Procedurally drawn pictures: coloured shapes on plain or noisy backgrounds, with captions.

They are the training data of the small CLIP model we ship (tools/), the
held-out set of its tests, and the library `anagnorisisd demo` creates, so a
newcomer can watch semantic search work with no download.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (40, 170, 60),
    "blue": (35, 70, 215),
    "yellow": (240, 220, 40),
    "purple": (135, 50, 175),
    "orange": (245, 140, 25),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
}
SHAPES = ("circle", "square", "triangle", "star")
NOISE = "noise"
TEMPLATES_PLAIN = (
    "a {c} {s}",
    "{c} {s}",
    "a photo of a {c} {s}",
    "a picture of a {c} {s}",
    "a drawing of a {c} {s}",
    "the {c} {s}",
    "a {s} that is {c}",
    "a {c} {s} shape",
)
TEMPLATES_BACKGROUND = (
    "a {c} {s} on a {b} background",
    "a photo of a {c} {s} on a {b} background",
    "{c} {s} on {b}",
    "a {c} {s} in front of a {b} background",
)
NOISE_WORDS = ("noisy", "textured", "grainy")


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    background: str  # a colour name, or "noise"
    centre: tuple[float, float]  # within the central square, as fractions
    scale: float  # shape size as a fraction of the frame's short side
    rotation: float  # degrees
    width: int
    height: int

    @property
    def label(self) -> str:
        return f"{self.colour} {self.shape}"


def random_scene(rng: np.random.Generator, min_side: int = 96, max_side: int = 640) -> Scene:
    colour = str(rng.choice(list(COLOURS)))
    shape = str(rng.choice(SHAPES))
    others = [c for c in COLOURS if c != colour]
    background = NOISE if rng.random() < 0.3 else str(rng.choice(others))
    scale = float(rng.uniform(0.2, 0.7))
    margin = scale / 2
    centre = (float(rng.uniform(margin, 1 - margin)), float(rng.uniform(margin, 1 - margin)))
    short = int(rng.integers(min_side, max_side + 1))
    aspect = float(rng.choice([1.0, 1.0, 4 / 3, 3 / 2, 16 / 9]))
    long = int(short * aspect)
    width, height = (long, short) if rng.random() < 0.6 else (short, long)
    return Scene(colour, shape, background, centre, scale, float(rng.uniform(0, 360)),
                 width, height)


def _background(scene: Scene, rng: np.random.Generator) -> Image.Image:
    if scene.background != NOISE:
        jitter = rng.integers(-12, 13, 3)
        rgb = tuple(int(v) for v in np.clip(np.array(COLOURS[scene.background]) + jitter, 0, 255))
        return Image.new("RGB", (scene.width, scene.height), rgb)  # type: ignore[arg-type]
    shape = (scene.height // 4 + 1, scene.width // 4 + 1)
    grey = rng.normal(rng.integers(70, 190), 45, (*shape, 1))
    tint = rng.normal(0, 12, (*shape, 3))  # a little colour, never enough to read as one
    tile = Image.fromarray(np.clip(grey + tint, 0, 255).astype(np.uint8))
    return tile.resize((scene.width, scene.height), Image.Resampling.BILINEAR)


def _polygon(shape: str, cx: float, cy: float, r: float, rotation: float) -> list[tuple[float,
                                                                                        float]]:
    if shape == "square":
        points = [(r * math.cos(a), r * math.sin(a)) for a in (0.785, 2.356, 3.927, 5.498)]
    elif shape == "triangle":
        points = [(r * math.cos(a), r * math.sin(a)) for a in (-1.571, 0.524, 2.618)]
    else:  # star: five points, inner radius 0.45
        points = []
        for k in range(10):
            radius = r if k % 2 == 0 else r * 0.45
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((radius * math.cos(angle), radius * math.sin(angle)))
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in points]


def draw(scene: Scene, rng: np.random.Generator) -> Image.Image:
    img = _background(scene, rng)
    side = min(scene.width, scene.height)
    left, top = (scene.width - side) / 2, (scene.height - side) / 2
    cx, cy = left + scene.centre[0] * side, top + scene.centre[1] * side
    r = scene.scale * side / 2
    jitter = rng.integers(-15, 16, 3)
    fill = tuple(int(v) for v in np.clip(np.array(COLOURS[scene.colour]) + jitter, 0, 255))
    pen = ImageDraw.Draw(img)
    if scene.shape == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)  # type: ignore[arg-type]
    else:
        pen.polygon(_polygon(scene.shape, cx, cy, r, scene.rotation), fill=fill)  # type: ignore[arg-type]
    return img


def caption(scene: Scene, rng: np.random.Generator) -> tuple[str, str | None]:
    """A caption and the background it mentions (None if it does not)."""
    if rng.random() < 0.4:
        template = str(rng.choice(TEMPLATES_BACKGROUND))
        words = str(rng.choice(NOISE_WORDS)) if scene.background == NOISE else scene.background
        return template.format(c=scene.colour, s=scene.shape, b=words), scene.background
    return str(rng.choice(TEMPLATES_PLAIN)).format(c=scene.colour, s=scene.shape), None


def balanced(scene: Scene, index: int, rng: np.random.Generator) -> Scene:
    """The same scene recoloured and reshaped so that classes take turns."""
    colour = list(COLOURS)[index % len(COLOURS)]
    shape = SHAPES[(index // len(COLOURS)) % len(SHAPES)]
    background = scene.background
    if background == colour:
        background = str(rng.choice([c for c in COLOURS if c != colour]))
    return dataclasses.replace(scene, colour=colour, shape=shape, background=background)


def make_library(folder: Path, count: int, seed: int, min_side: int = 96,
                 max_side: int = 640, every_class: bool = False) -> list[tuple[Path, Scene]]:
    """Write `count` JPEGs named after what they show; return them with their scenes.

    With `every_class`, colour and shape cycle through all 32 combinations.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        scene = random_scene(rng, min_side, max_side)
        if every_class:
            scene = balanced(scene, i, rng)
        path = folder / scene.shape / f"{scene.colour}-{scene.shape}-{i:05d}.jpg"
        path.parent.mkdir(exist_ok=True)
        draw(scene, rng).save(path, "JPEG", quality=int(rng.integers(75, 95)))
        out.append((path, scene))
    return out
