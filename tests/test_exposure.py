"""Exposure in stops and misfires, measured on real photos (scikit-image's astronaut,
coffee, chelsea and camera) and on the same photos two stops darker or brighter (done in
linear light, as a camera's exposure would), a black frame, a grey card and a heavy blur."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from anagnorisisd.features.culling.keepers import Candidate, choose, exposure_fault, faults
from plugins.quality_stage import LINEAR, _grey, exposure, misfire, sharpness


def real(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def stops_changed(img: Image.Image, stops: float) -> Image.Image:
    """The photo with its light multiplied by 2**stops, clipped, back to sRGB."""
    lin = LINEAR[np.asarray(img)] * 2.0 ** stops
    lin = np.clip(lin, 0, 1)
    srgb = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return Image.fromarray(np.round(srgb * 255).astype(np.uint8))


def measured(img: Image.Image) -> tuple[dict[str, float], str | None]:
    grey = _grey(img)
    light = exposure(grey)
    return light, misfire(grey, light["dark"], sharpness(img))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera"])
def test_two_stops_of_exposure_measure_about_two_stops(name: str) -> None:
    photo = real(name)
    base, fault = measured(photo)
    assert fault is None and -2.0 < base["stops"] < 1.5
    darker, _ = measured(stops_changed(photo, -2))
    brighter, _ = measured(stops_changed(photo, 2))
    assert -2.2 < darker["stops"] - base["stops"] < -1.5  # clipping eats a little
    assert 0.8 < brighter["stops"] - base["stops"] < 2.2
    assert brighter["bright"] > base["bright"]


def test_misfires_are_named() -> None:
    assert measured(Image.new("RGB", (800, 600), (3, 3, 3)))[1] == "nearly black"
    assert measured(Image.new("RGB", (800, 600), (120, 118, 121)))[1] == "nearly uniform"
    blurred = real("coffee").filter(ImageFilter.GaussianBlur(8))
    assert measured(blurred)[1] == "blurred throughout"
    assert measured(real("coffee").filter(ImageFilter.GaussianBlur(1)))[1] is None


def shot(name: str, stops: float | None, sharp: float = 500.0, misfire: str | None = None
         ) -> Candidate:
    return Candidate(name.encode().ljust(32, b"-"), None, None, sharp, 100, 10,
                     stops=stops, misfire=misfire)


def test_a_shot_darker_than_the_rest_of_its_stack_is_named_and_not_kept() -> None:
    group = [shot("a", -0.4), shot("b", -2.0), shot("c", -0.5), shot("d", -0.3)]
    assert exposure_fault(group[1], group) == \
        "underexposed, 1.6 stops darker than the shots around it"
    assert exposure_fault(group[0], group) is None
    said = faults(group)
    assert said[group[1].content] == ["underexposed, 1.6 stops darker than the shots around it"]
    best, why = choose([shot("b", -2.0), shot("a", -0.4)])  # two shots: each is 1.6 off
    assert best.content.startswith(b"a")  # the tie falls to the content id: no claim made
    best, why = choose([shot("a", -2.0, sharp=520), shot("b", -0.4), shot("c", -0.5)])
    assert not best.content.startswith(b"a") and "well exposed, where 1 of" in why, why
    best, why = choose([shot("a", None, misfire="nearly black"), shot("b", -0.4, sharp=500)])
    assert best.content.startswith(b"b")
    lit = [Candidate(c.content, None, None, 500.0, 100, 10, stops=c.stops, light=light)
           for c, light in zip(group, (3.0, 1.5, 3.1, 2.9), strict=True)]
    assert exposure_fault(lit[1], lit) == ("underexposed, 1.6 stops darker than the shots "
                                           "around it (the camera let in 1.5 stops less light)")
