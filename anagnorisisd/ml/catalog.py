"""The CLIP models immich publishes, with the figures immich's documentation gives for them.

`model list --available` shows this table so a person can choose without reading three
web pages. The figures are immich's, quoted as its documentation states them
(https://docs.immich.app/features/searching, "CLIP models"): peak memory in MiB and
mean execution time in ms per image on a 7800X3D without acceleration, at fp32;
recall is the mean of recall@1/5/10 for English zero-shot image retrieval on
Crossmodal-3600. They compare models with one another; they are not this machine's.
The M-CLIP models are published but not in that table, so they carry no figures.
"""

from __future__ import annotations

from dataclasses import dataclass

EN = "English"
MULTI = "multilingual"


@dataclass(frozen=True)
class Published:
    name: str
    memory_mib: int | None
    ms_per_image: float | None
    recall_en: float | None
    languages: str


PUBLISHED = [
    Published("ViT-H-14-378-quickgelu__dfn5b", 5049, 108.4, 75.73, EN),
    Published("ViT-L-16-SigLIP2-512__webli", 3358, 92.59, 75.44, MULTI),
    Published("ViT-B-16-SigLIP2__webli", 3038, 5.81, 75.19, MULTI),
    Published("ViT-SO400M-16-SigLIP2-384__webli", 3854, 56.57, 75.09, MULTI),
    Published("ViT-SO400M-16-SigLIP2-512__webli", 4050, 107.67, 75.07, MULTI),
    Published("ViT-H-14-quickgelu__dfn5b", 4701, 38.74, 75.01, EN),
    Published("ViT-L-16-SigLIP2-384__webli", 3057, 51.7, 74.92, MULTI),
    Published("ViT-gopt-16-SigLIP2-384__webli", 6585, 146.84, 74.9, MULTI),
    Published("ViT-SO400M-14-SigLIP2-378__webli", 3940, 72.25, 74.87, MULTI),
    Published("ViT-SO400M-16-SigLIP2-256__webli", 3611, 27.84, 74.87, MULTI),
    Published("ViT-SO400M-14-SigLIP2__webli", 3622, 27.63, 74.77, MULTI),
    Published("ViT-gopt-16-SigLIP2-256__webli", 6475, 64.51, 74.28, MULTI),
    Published("ViT-L-16-SigLIP2-256__webli", 2830, 23.77, 74.26, MULTI),
    Published("ViT-B-32-SigLIP2-256__webli", 3061, 3.31, 73.15, MULTI),
    Published("ViT-L-14-quickgelu__dfn2b", 2212, 20.49, 72.78, EN),
    Published("ViT-SO400M-14-SigLIP-384__webli", 4417, 72.19, 72.58, EN),
    Published("ViT-L-16-SigLIP-384__webli", 3396, 47.6, 72.57, EN),
    Published("ViT-B-16-SigLIP-512__webli", 1828, 26.17, 72.47, EN),
    Published("ViT-B-16-SigLIP-384__webli", 1128, 13.53, 72.45, EN),
    Published("ViT-L-16-SigLIP-256__webli", 3160, 23.84, 72.44, EN),
    Published("nllb-clip-large-siglip__mrl", 4248, 75.44, 72.37, MULTI),
    Published("ViT-B-16-SigLIP__webli", 1081, 5.77, 71.64, EN),
    Published("ViT-B-16-SigLIP-256__webli", 1102, 7.11, 71.63, EN),
    Published("XLM-Roberta-Large-ViT-H-14__frozen_laion5b_s13b_b90k", 4014, 39.14, 71.45, MULTI),
    Published("ViT-H-14__laion2b-s32b-b79k", 4676, 39.06, 71.33, EN),
    Published("nllb-clip-large-siglip__v1", 4226, 75.05, 71.19, MULTI),
    Published("ViT-L-14__laion2b-s32b-b82k", 2233, 20.56, 69.86, EN),
    Published("nllb-clip-base-siglip__mrl", 4696, 16.95, 69.66, MULTI),
    Published("ViT-B-16-SigLIP-i18n-256__webli", 3029, 6.87, 69.38, MULTI),
    Published("ViT-B-32__laion2b-s34b-b79k", 1001, 2.29, 68.78, EN),
    Published("ViT-L-14__laion400m_e31", 2183, 19.87, 68.53, EN),
    Published("ViT-B-16-plus-240__laion400m_e32", 1246, 6.95, 68.53, EN),
    Published("ViT-B-16-plus-240__laion400m_e31", 1263, 6.94, 68.53, EN),
    Published("ViT-L-14__laion400m_e32", 2218, 19.73, 68.51, EN),
    Published("nllb-clip-base-siglip__v1", 4675, 15.17, 68.41, MULTI),
    Published("ViT-B-32__laion2b_e16", 1004, 2.38, 68.41, EN),
    Published("XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k", 3030, 3.2, 68.33, MULTI),
    Published("ViT-B-16__laion400m_e31", 991, 5.04, 66.96, EN),
    Published("ViT-B-16__laion400m_e32", 975, 4.98, 66.95, EN),
    Published("ViT-B-32__laion400m_e31", 999, 2.28, 65.65, EN),
    Published("ViT-B-32__laion400m_e32", 1003, 2.35, 65.49, EN),
    Published("ViT-L-14__openai", 2212, 19.91, 60.12, EN),
    Published("ViT-B-32__openai", 1004, 2.26, 59.37, EN),
    Published("RN50x64__openai", 5079, 48.79, 59.36, EN),
    Published("RN50x16__openai", 2221, 15.87, 59.17, EN),
    Published("ViT-L-14-336__openai", 2616, 43.45, 59.09, EN),
    Published("RN50__openai", 913, 2.39, 58.32, EN),
    Published("ViT-B-16__openai", 985, 5.03, 58.27, EN),
    Published("RN50x4__openai", 1416, 5.85, 57.88, EN),
    Published("RN50__cc12m", 914, 2.37, 57.75, EN),
    Published("RN101__openai", 1111, 3.21, 57.7, EN),
    Published("RN101__yfcc15m", 1111, 3.22, 50.11, EN),
    Published("RN50__yfcc15m", 908, 2.34, 48.28, EN),
    Published("XLM-Roberta-Large-Vit-B-32", None, None, None, MULTI),
    Published("XLM-Roberta-Large-Vit-B-16Plus", None, None, None, MULTI),
    Published("XLM-Roberta-Large-Vit-L-14", None, None, None, MULTI),
    Published("LABSE-Vit-L-14", None, None, None, MULTI),
]
DEFAULT = "ViT-B-32__laion2b-s34b-b79k"
"""The default model: in immich's table it costs what ViT-B-32__openai costs (1001 against
1004 MiB, 2.29 against 2.26 ms) and finds more (68.78 % against 59.37 % recall); nothing
in the table is both as cheap and better."""


def published(name: str) -> Published | None:
    return next((p for p in PUBLISHED if p.name == name), None)


def describe(entry: Published) -> str:
    """One line: name, languages, and immich's figures where it has them."""
    if entry.recall_en is None:
        figures = "no figures in immich's table"
    else:
        figures = (f"recall {entry.recall_en:.1f} %, {entry.ms_per_image:g} ms/image, "
                   f"{entry.memory_mib} MiB")
    return f"{entry.name:<54} {entry.languages:<13} {figures}"
