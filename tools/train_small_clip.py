"""Train the small CLIP-style model shipped in anagnorisisd/ml/shipped/ (CPU, a few minutes).

    python -m tools.train_small_clip [--out anagnorisisd/ml/shipped/shapes-clip-mini]

It learns coloured shapes on plain or noisy backgrounds (anagnorisisd.app.shapes)
with CLIP's symmetric contrastive loss (plus the same loss between images of
one class, so image neighbours group by content), then exports both encoders in the
immich-app layout with the real CLIP BPE tokenizer. Small on purpose: a
4-layer CNN for images, and for text a 2-layer transformer whose token table
holds only the tokens its captions use (every other id maps to one shared
"unknown" row), so the whole model is a couple of MB.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from anagnorisisd.app.shapes import COLOURS, SHAPES, caption, draw, random_scene
from anagnorisisd.ml.preprocess import Preprocessor
from tools.clip_tokenizer_json import build, open_clip_vocab_file
from tools.export_layout import CLIP_MEAN, CLIP_STD, write_layout

IMAGE_SIZE = 64
CONTEXT = 24
EMBED = 64
WIDTH = 64
VOCAB_IDS = 49408
DEFAULT_OUT = Path("anagnorisisd/ml/shipped/shapes-clip-mini")


class ImageEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        chans = [3, 32, 64, 128, 160]
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1] * 2, EMBED)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)


class Block(nn.Module):
    """Pre-norm causal self-attention block, written with plain ops so it exports cleanly."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(),
                                 nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, t, w = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(n, t, 3, self.heads, w // self.heads).permute(
            2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) * (w // self.heads) ** -0.5 + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(n, t, w)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    def __init__(self, token_rows: torch.Tensor, rows: int) -> None:
        super().__init__()
        self.register_buffer("token_rows", token_rows)  # CLIP id -> row in the small table
        self.embed = nn.Embedding(rows, WIDTH)
        self.position = nn.Parameter(torch.randn(CONTEXT, WIDTH) * 0.02)
        self.blocks = nn.ModuleList([Block(WIDTH, 4) for _ in range(2)])
        self.ln = nn.LayerNorm(WIDTH)
        self.head = nn.Linear(WIDTH, EMBED)
        causal = torch.full((CONTEXT, CONTEXT), float("-inf")).triu(1)
        self.register_buffer("causal", causal)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        x = self.embed(self.token_rows[ids]) + self.position
        for block in self.blocks:
            x = block(x, self.causal)
        x = self.ln(x)
        # As in CLIP: read the features at the end token, the largest id in the sequence.
        end = ids.argmax(dim=-1)
        return self.head(x[torch.arange(x.shape[0]), end])


def caption_vocab(tokenizer_ids: list[list[int]]) -> torch.Tensor:
    used = sorted({i for ids in tokenizer_ids for i in ids})
    table = torch.ones(VOCAB_IDS, dtype=torch.int64)  # row 1: every token never seen in training
    table[0] = 0
    for row, token in enumerate(used, start=2):
        table[token] = row
    return table


def make_dataset(n: int, seed: int, tokenizer: object, pre: Preprocessor) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    images = np.empty((n, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    ids = np.zeros((n, CONTEXT), np.int64)
    labels, bgs, cap_bgs = [], [], []
    for i in range(n):
        scene = random_scene(rng, 64, 224)
        img = draw(scene, rng)
        if rng.random() < 0.5:  # JPEG artefacts, as in real files
            import io

            from PIL import Image

            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=int(rng.integers(70, 95)))
            img = Image.open(buf).convert("RGB")
        images[i] = pre(img)
        text, mentioned = caption(scene, rng)
        enc = tokenizer.encode(text).ids[:CONTEXT]  # type: ignore[attr-defined]
        enc[-1] = 49407 if len(enc) == CONTEXT else enc[-1]
        ids[i, : len(enc)] = enc
        labels.append(list(COLOURS).index(scene.colour) * len(SHAPES) + SHAPES.index(scene.shape))
        bgs.append(scene.background)
        cap_bgs.append(mentioned)
    return {"images": torch.from_numpy(images), "ids": torch.from_numpy(ids),
            "labels": torch.tensor(labels), "bgs": bgs, "cap_bgs": cap_bgs}


def targets(labels: torch.Tensor, bgs: list[str], cap_bgs: list[str | None]) -> torch.Tensor:
    """image i matches caption j when colour and shape agree and any background named agrees."""
    same = labels[:, None] == labels[None, :]
    bg_ok = torch.tensor([[cb is None or cb == b for cb in cap_bgs] for b in bgs])
    match = (same & bg_ok).float()
    return match / match.sum(dim=1, keepdim=True)


def clip_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor,
              target: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric cross-entropy over image-text similarities, with every caption that
    truly describes an image counted as a positive (a batch repeats captions)."""
    logits = scale.exp() * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T
    per_image = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
    t2 = target.T / target.T.sum(dim=1, keepdim=True)
    per_text = -(t2 * logits.T.log_softmax(dim=1)).sum(dim=1).mean()
    return (per_image + per_text) / 2


def image_loss(img: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The same contrastive form between images: pictures of one colour+shape attract.

    Text supervision alone leaves backgrounds and positions in the image
    embedding; this term is what makes "more like this" group by content.
    """
    z = F.normalize(img, dim=-1)
    logits = scale.exp() * z @ z.T
    eye = torch.eye(len(z), dtype=torch.bool)
    logits = logits.masked_fill(eye, -1e4)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    target = positive.float() / positive.sum(dim=1, keepdim=True).clamp(min=1)
    return -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--samples", type=int, default=16000)
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    started = time.monotonic()

    tokenizer = build(open_clip_vocab_file())
    pre = Preprocessor.from_config({"size": IMAGE_SIZE, "mean": CLIP_MEAN, "std": CLIP_STD})
    data = make_dataset(args.samples, args.seed, tokenizer, pre)
    print(f"drew {args.samples} captioned images in {time.monotonic() - started:.0f}s", flush=True)
    table = caption_vocab(data["ids"].tolist())  # type: ignore[attr-defined]
    visual, textual = ImageEncoder(), TextEncoder(table, int(table.max()) + 1)
    scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
    params = [*visual.parameters(), *textual.parameters(), scale]
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.05)
    batch = 256
    steps = args.epochs * (args.samples // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    images, ids, labels = data["images"], data["ids"], data["labels"]
    for epoch in range(args.epochs):
        order = torch.randperm(args.samples)
        total = 0.0
        for start in range(0, args.samples - batch + 1, batch):
            idx = order[start : start + batch]
            x = images[idx]  # type: ignore[index]
            if torch.rand(()) < 0.5:
                x = x.flip(3)
            target = targets(labels[idx], [data["bgs"][i] for i in idx],  # type: ignore[index]
                             [data["cap_bgs"][i] for i in idx])  # type: ignore[index]
            img = visual(x)
            loss = clip_loss(img, textual(ids[idx]), scale, target)  # type: ignore[index]
            loss = loss + image_loss(img, labels[idx], scale)  # type: ignore[index]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                scale.clamp_(0, np.log(100))
            total += float(loss.detach())
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / (args.samples // batch):.3f} "
              f"({time.monotonic() - started:.0f}s)", flush=True)
    visual.eval()
    textual.eval()
    write_layout(args.out, visual, textual, image_size=IMAGE_SIZE, context_length=CONTEXT,
                 embed_dim=EMBED, model_cfg={
                     "model": "shapes-clip-mini",
                     "note": "trained by tools/train_small_clip.py on anagnorisisd.app.shapes",
                     "vision_cfg": {"layers": 4, "width": 160},
                     "text_cfg": {"layers": 2, "width": WIDTH, "heads": 4, "vocab_size": VOCAB_IDS},
                     # read by anagnorisisd.ml.layout.fitness_warning wherever it is used
                     "fit_for_photos": False,
                     "fitness_note": (
                         "shapes-clip-mini is the small demo model this project ships: it was "
                         "trained on drawn shapes and tells colours and shapes apart, not "
                         "photos; search, stacks and duplicates made with it are not to be "
                         "trusted on a photo library"),
                 })
    (args.out / "training.json").write_text(json.dumps({
        "samples": args.samples, "epochs": args.epochs, "seed": args.seed,
        "seconds": round(time.monotonic() - started), "torch": torch.__version__,
    }, indent=2) + "\n")
    print(f"wrote {args.out} in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
