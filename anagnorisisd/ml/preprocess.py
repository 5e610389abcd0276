"""Image preprocessing for CLIP visual encoders, driven by preprocess_cfg.json.

It follows immich's machine-learning service, itself open_clip's inference
transform: "shortest" resizes the short side with the configured filter and
centre-crops, "squash" resizes to a square, as preprocess_cfg.json says (some
immich releases crop every model and ignore the "squash" that SigLIP, SigLIP2,
NLLB-SigLIP and DFN models ask for; the config wins here, as in immich's
current source); then scale to [0, 1] and normalise. open_clip's
"longest" (letterbox) is honoured too, though immich refuses it.

The one liberty, on by default, is JPEG draft decoding (libjpeg's 1/2, 1/4,
1/8 scaling) to no less than the model's input size before the resize: 3.4x
faster decoding of 12 MP photos. Its cost is measured in tests/test_clip_parity
and tests/test_model_families (pixels: mean |diff| < 0.03; a random ViT-B/32:
cosine >= 0.9999 to full decoding; the small stress graphs of every family:
>= 0.999). `[model] exact_decode = true` turns it off, and then the tensors
are immich's to the last rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.ml.layout import ModelError

INTERPOLATIONS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
RESIZE_MODES = ("shortest", "squash", "longest")
MAX_STRETCH = 8
"""Above this aspect ratio the "shortest" resize works on the crop window alone."""


@dataclass(frozen=True)
class Preprocessor:
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: Image.Resampling = Image.Resampling.BICUBIC
    resize_mode: str = "shortest"
    fill_color: int = 0
    draft: bool = True
    """Decode JPEGs at libjpeg's reduced scales first ([model] exact_decode = false)."""

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Preprocessor:
        size = cfg["size"]
        size = int(size[0] if isinstance(size, list) else size)
        interpolation = str(cfg.get("interpolation", "bicubic"))
        resize_mode = str(cfg.get("resize_mode", "shortest"))
        if interpolation not in INTERPOLATIONS:
            raise ModelError(f"preprocess_cfg.json: unsupported interpolation '{interpolation}'")
        if resize_mode not in RESIZE_MODES:
            raise ModelError(f"preprocess_cfg.json: unsupported resize_mode '{resize_mode}'")
        mean = tuple(float(v) for v in cfg["mean"])
        std = tuple(float(v) for v in cfg["std"])
        if len(mean) != 3 or len(std) != 3:
            raise ModelError("preprocess_cfg.json: mean and std need three values")
        return cls(size, mean, std, INTERPOLATIONS[interpolation],  # type: ignore[arg-type]
                   resize_mode, int(cfg.get("fill_color", 0)))

    def resize(self, img: Image.Image) -> Image.Image:
        """Resize and crop (or pad) an RGB image to size x size, as open_clip does."""
        s = self.size
        w, h = img.size
        if self.resize_mode == "squash":
            return img.resize((s, s), self.interpolation)
        if self.resize_mode == "longest":
            scale = s / max(w, h)
            new = (max(1, round(w * scale)), max(1, round(h * scale)))
            canvas = Image.new("RGB", (s, s), (self.fill_color,) * 3)
            canvas.paste(img.resize(new, self.interpolation), ((s - new[0]) // 2,
                                                                (s - new[1]) // 2))
            return canvas
        # "shortest": the short side becomes `s`, the long side is truncated, and the crop
        # offsets are floored, with immich's arithmetic to the last float rounding (the
        # ratio first, then the size), so the same photo gives the same pixels.
        if w < h:
            new_w, new_h = s, int((h / w) * s)
        else:
            new_w, new_h = int((w / h) * s), s
        top = int(new_h / 2 - s / 2)
        left = int(new_w / 2 - s / 2)
        if max(new_w, new_h) > MAX_STRETCH * s:
            # A strip (1 x 60,000 pixels, say) would first become 224 x 13 million pixels:
            # a memory bomb. Resize only the window that survives the crop instead; the
            # filter then sees no pixels beyond it, a difference confined to the crop's edge.
            sx, sy = new_w / w, new_h / h
            box = (left / sx, top / sy, (left + s) / sx, (top + s) / sy)
            return img.resize((s, s), self.interpolation, box=box)
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), self.interpolation)
        return img.crop((left, top, left + s, top + s))

    def to_array(self, img: Image.Image) -> NDArray[np.float32]:
        """HWC uint8 -> CHW float32, scaled to [0, 1] and normalised."""
        arr = np.asarray(img, dtype=np.float32) * (1 / 255)
        arr -= np.asarray(self.mean, dtype=np.float32)
        arr /= np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(arr.transpose(2, 0, 1))

    def __call__(self, img: Image.Image) -> NDArray[np.float32]:
        return self.to_array(self.resize(img if img.mode == "RGB" else img.convert("RGB")))

    def decode_target(self, at_least: int = 0) -> int | None:
        """The size to ask `decoded` for when this model's input (and `at_least` pixels for
        something else, a thumbnail) come from one decode: None, a full decode, when the
        model wants immich's exact pixels."""
        return max(self.size, at_least) if self.draft else None

    def load(self, path: str) -> NDArray[np.float32]:
        """Decode a file (EXIF-upright, RGB, first frame) and preprocess it, shrinking it
        while its pixels still count against the decode budget."""
        with decoded(path, self.size if self.draft else None) as img:
            return self(to_rgb(img))
