"""Write PyTorch image/text encoders to ONNX in the immich-app model layout.

Shared by the small-model trainer, the ViT-B/32 parity test and the benchmark,
so all three produce exactly the layout the daemon loads.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from tools import clip_tokenizer_json

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


class Normalised(torch.nn.Module):
    """Wraps an encoder so the graph's output is the L2-normalised `embedding`."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.encoder(x), dim=-1)


def export_graph(module: torch.nn.Module, example: torch.Tensor, input_name: str, path: Path,
                 dynamic_batch: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    module = Normalised(module).eval()
    with torch.no_grad():
        torch.onnx.export(
            module, (example,), str(path), input_names=[input_name], output_names=["embedding"],
            dynamic_axes={input_name: {0: "batch"}, "embedding": {0: "batch"}}
            if dynamic_batch else None,
            opset_version=17, dynamo=False,
        )


def write_layout(out: Path, visual: torch.nn.Module, textual: torch.nn.Module, *,
                 image_size: int, context_length: int, embed_dim: int,
                 model_cfg: dict[str, Any] | None = None, interpolation: str = "bicubic",
                 resize_mode: str = "shortest", dynamic_batch: bool = True,
                 mean: list[float] | None = None, std: list[float] | None = None) -> Path:
    """Export both encoders and write every JSON file of the layout into `out`."""
    staging = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent if out.parent.exists()
                                    else None))
    try:
        export_graph(visual, torch.zeros(2, 3, image_size, image_size), "image",
                     staging / "visual" / "model.onnx", dynamic_batch)
        tokens = torch.zeros(2, context_length, dtype=torch.int32)
        tokens[:, 0], tokens[:, 1] = 49406, 49407
        export_graph(textual, tokens, "text", staging / "textual" / "model.onnx", dynamic_batch)
        (staging / "visual" / "preprocess_cfg.json").write_text(json.dumps({
            "size": [image_size, image_size], "mode": "RGB", "mean": mean or CLIP_MEAN,
            "std": std or CLIP_STD, "interpolation": interpolation, "resize_mode": resize_mode,
            "fill_color": 0,
        }, indent=2) + "\n")
        clip_tokenizer_json.write(staging / "textual")
        config = dict(model_cfg or {})
        config["embed_dim"] = embed_dim
        config.setdefault("vision_cfg", {})["image_size"] = image_size
        config.setdefault("text_cfg", {})["context_length"] = context_length
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


class HFClipVisual(torch.nn.Module):
    """transformers' CLIPModel image tower + projection, as one module to export."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        return m.visual_projection(m.vision_model(pixel_values=x).pooler_output)


class HFClipTextual(torch.nn.Module):
    """transformers' CLIPModel text tower + projection, as one module to export."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        m = self.model
        return m.text_projection(m.text_model(input_ids=ids.long()).pooler_output)


def random_vit_b32(out: Path, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Export a randomly initialised ViT-B/32 CLIP (transformers' default CLIPConfig)."""
    import transformers

    torch.manual_seed(seed)
    model = transformers.CLIPModel(transformers.CLIPConfig()).eval().requires_grad_(False)
    model.config._attn_implementation = "eager"
    visual, textual = HFClipVisual(model).eval(), HFClipTextual(model).eval()
    write_layout(out, visual, textual, image_size=224, context_length=77, embed_dim=512,
                 model_cfg={"model": "ViT-B-32", "vision_cfg": {"patch_size": 32, "width": 768}})
    return visual, textual
