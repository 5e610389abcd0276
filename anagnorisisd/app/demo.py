"""`anagnorisisd demo DIR`: a library of drawn shapes and a config using the small shipped model,
so semantic search can be seen working offline in one command."""

from __future__ import annotations

import shutil
from pathlib import Path

from anagnorisisd.app.shapes import make_library
from anagnorisisd.ml.manager import shipped_model_dir

DEMO_MODEL = "shapes-clip-mini"


def create_demo(directory: Path, count: int = 400, port: int = 8765) -> Path:
    directory = directory.resolve()
    library = directory / "library"
    data = directory / "data"
    make_library(library, count, seed=2024)
    model_target = data / "models" / DEMO_MODEL
    if not model_target.exists():
        shutil.copytree(shipped_model_dir(DEMO_MODEL), model_target)
    config = directory / "config.toml"
    config.write_text(
        "# Written by `anagnorisisd demo`. See the repository's config.toml for every key.\n"
        f'[library]\npaths = ["{library}"]\n\n'
        f'[storage]\ndata_dir = "{data}"\n\n'
        f"[server]\nport = {port}\n\n"
        f'[model]\nname = "{DEMO_MODEL}"\nauto_pull = false\n\n'
        "# The small model sees little but colour and shape: only near-identical pictures\n"
        "# count as duplicates. Real CLIP models do well with the default of 0.95.\n"
        "[index]\nduplicate_threshold = 0.995\n"
    )
    return config
