"""A stand-in for immich's machine-learning server, for the tests and the benchmark: the same
HTTP protocol (GET /ping, POST /predict with a multipart `entries` form and an `image` file
or a `text` field, answers `{"clip": "<JSON array>", "imageHeight", "imageWidth"}`), served
by aiohttp on 127.0.0.1 and computed with the project's own small ONNX model, preprocessed
the way immich's server does it (decode, shortest side to the input size, centre crop).

Modes make it misbehave the ways a real network does: `slow` waits before answering,
`garbage` answers with something that is not a vector, `disagree` answers with another
model's vectors (the same numbers, shuffled), `drip` sends its answer a byte at a time,
`nested` answers with JSON nested 100,000 deep, `bignum` with a 400-digit number, `random`
with random vectors once it has answered `--honest` images truthfully (the probe among
them), and `picky` answers HTTP 500, as immich does for an image it cannot decode, for any
image that is mostly magenta. With `--faces NAME` it also serves immich's facial-recognition
entry with dlib's real weights (tests/dlib_faces.py); `outside` then puts every face box
far outside the picture. With `--ocr NAME` it serves immich's `ocr` entry with the
real PP-OCR weights inside the rapidocr wheel, run through rapidocr's own end-to-end call
(not this project's code), lines under immich's recognition minScore dropped; `garbage`
then answers lists of different lengths and `outside` boxes beyond the picture.
`immich` behaves as immich's own server does where it differs from the local models: face
boxes are not cut to the picture (a face at the edge reaches a few pixels past it) and
text lines come in an order of its own (here: reversed); `surrogate` adds a line whose
text is a lone surrogate ("\\ud800", valid JSON) to every picture but the probe's;
`odd-once` answers the first face or text request after the probe with a box wholly
outside the picture, then answers truthfully.
GET /stats counts what it embedded; POST /mode?mode=NAME changes the mode while it runs.

    python -m tests.immich_ml_worker --port 3003 [--mode slow --delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image, ImageOps

from anagnorisisd.ml.clip import ClipModel
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.ml.session import SessionSettings
from tests.dlib_faces import DlibFaces

MODES = ("normal", "slow", "garbage", "disagree", "drip", "nested", "bignum", "random",
         "picky", "outside", "immich", "surrogate", "odd-once")


def ocr_answer(engine: Any, rgb: np.ndarray, min_score: float, mode: str,
               odd: bool = False) -> dict[str, Any]:
    """immich's `ocr` answer for a picture: texts, boxes as 8 fractions, and scores."""
    result = engine(np.ascontiguousarray(rgb[..., ::-1]))
    height, width = rgb.shape[:2]
    texts, boxes, scores = [], [], []
    found = (zip(result.boxes, result.txts, result.scores, strict=True)
             if getattr(result, "txts", None) else [])
    for box, text, score in found:
        if float(score) <= min_score:
            continue
        corners = np.asarray(box, dtype=np.float64).reshape(4, 2) / [width, height]
        if mode == "outside" or (mode == "odd-once" and odd):
            corners = corners + 3.0
        texts.append(str(text))
        boxes.extend(corners.reshape(-1).tolist())
        scores.append(float(score))
    if mode == "garbage":
        texts.append("one more text than boxes")
    if mode == "immich":  # the same lines, in an order of immich's own
        order = list(range(len(texts)))[::-1]
        texts = [texts[i] for i in order]
        boxes = [v for i in order for v in boxes[8 * i: 8 * i + 8]]
        scores = [scores[i] for i in order]
    if mode == "surrogate" and odd:
        texts.append("\ud800")
        boxes.extend([0.1, 0.1, 0.3, 0.1, 0.3, 0.2, 0.1, 0.2])
        scores.append(0.99)
    return {"ocr": {"text": texts, "box": boxes, "boxScore": scores, "textScore": scores},
            "imageHeight": height, "imageWidth": width}


def build(model_dir: Path, name: str, mode: str = "normal", delay: float = 0.0,
          threads: int = 1, serves: str | None = None, honest: int = 1,
          faces: str | None = None, ocr: str | None = None) -> web.Application:
    model = ClipModel(ModelFiles(name, model_dir),
                      SessionSettings(("CPUExecutionProvider",), threads), exact_decode=True)
    served = serves or name
    counts = {"images": 0, "texts": 0, "faces": 0, "ocr": 0, "odd": 0}
    faces_model = DlibFaces() if faces else None
    ocr_engine: list[Any] = []
    served_faces = faces
    shuffle = np.random.default_rng(0).permutation(model.embed_dim)
    rng = np.random.default_rng(1)
    state = {"mode": mode}

    async def ping(_: web.Request) -> web.Response:
        return web.Response(text="pong")

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({**counts, "mode": state["mode"]})

    async def set_mode(request: web.Request) -> web.Response:
        state["mode"] = request.query["mode"]
        return web.json_response(state)

    async def drip(request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Content-Length": str(len(body))})
        await response.prepare(request)
        for i in range(len(body)):
            await response.write(body[i:i + 1])
            await asyncio.sleep(0.2)
        return response

    async def face_answer(types: dict[str, Any], image: Any, mode: str) -> web.Response:
        """immich's facial-recognition entry, with dlib's real weights (tests/dlib_faces)."""
        detection, recognition = types["detection"], types["recognition"]
        if faces_model is None or served_faces not in (detection.get("modelName"),
                                                       recognition.get("modelName")):
            return web.json_response({"detail": "Failed to load model"}, status=500)
        if not isinstance(image, web.FileField):
            return web.json_response({"detail": "an image is needed"}, status=400)
        rgb = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(image.file.read())))
                         .convert("RGB"))
        min_score = float(detection.get("options", {}).get("minScore", 0.7))
        found = await asyncio.get_running_loop().run_in_executor(
            None, faces_model.faces, rgb, min_score)
        counts["faces"] += 1
        odd = mode == "odd-once" and counts["faces"] > 1 and not counts["odd"]
        counts["odd"] += odd
        for face in found:
            if mode == "outside" or odd:
                face["boundingBox"] = {"x1": 5000, "y1": 5000, "x2": 5100, "y2": 5100}
            if mode == "immich":  # immich's detector does not cut its boxes to the picture
                box = face["boundingBox"]
                face["boundingBox"] = {"x1": box["x1"] - 6, "y1": box["y1"] - 6,
                                       "x2": box["x2"] + 6, "y2": box["y2"] + 6}
            if mode == "disagree":
                face["embedding"] = face["embedding"][::-1]
            if mode == "random" and counts["faces"] > honest:
                face["embedding"] = rng.normal(size=len(face["embedding"])).tolist()
            face["embedding"] = json.dumps(face["embedding"])
        if mode == "garbage":
            found = "no faces today"  # type: ignore[assignment]
        return web.json_response({"facial-recognition": found,
                                  "imageHeight": rgb.shape[0], "imageWidth": rgb.shape[1]})

    async def text_answer(types: dict[str, Any], image: Any, mode: str) -> web.Response:
        """immich's `ocr` entry: detection and recognition in one request."""
        detection, recognition = types["detection"], types["recognition"]
        if ocr is None or ocr not in (detection.get("modelName"), recognition.get("modelName")):
            return web.json_response({"detail": "Failed to load model"}, status=500)
        if not isinstance(image, web.FileField):
            return web.json_response({"detail": "an image is needed"}, status=400)
        if not ocr_engine:
            from rapidocr import RapidOCR

            ocr_engine.append(RapidOCR(params={"Global.log_level": "error",
                                               "Global.text_score": 0.0}))
        if mode == "slow":
            await asyncio.sleep(delay)
        rgb = np.asarray(Image.open(io.BytesIO(image.file.read())).convert("RGB"))
        min_score = float(recognition.get("options", {}).get("minScore", 0.9))
        counts["ocr"] += 1
        # The probe page comes first: an odd answer is for a photo, never for the probe.
        odd = counts["ocr"] > 1 and (mode == "surrogate" or (
            mode == "odd-once" and not counts["odd"]))
        counts["odd"] += odd and mode == "odd-once"
        answer = await asyncio.get_running_loop().run_in_executor(
            None, ocr_answer, ocr_engine[0], rgb, min_score, mode, odd)
        return web.json_response(answer)

    async def predict(request: web.Request) -> web.StreamResponse:
        mode = state["mode"]
        form = await request.post()
        try:
            entries = json.loads(str(form["entries"]))
            (task, types), = entries.items()
            if task == "facial-recognition":
                return await face_answer(types, form.get("image"), mode)
            if task == "ocr":
                return await text_answer(types, form.get("image"), mode)
            (kind, entry), = types.items()
        except (KeyError, ValueError):
            return web.json_response({"detail": "Invalid request format."}, status=422)
        if task != "clip" or entry.get("modelName") != served:
            return web.json_response({"detail": f"Failed to load model '{entry.get('modelName')}'"},
                                     status=500)
        if mode == "slow":
            await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        image = form.get("image")
        if kind == "visual" and isinstance(image, web.FileField):
            img = ImageOps.exif_transpose(Image.open(io.BytesIO(image.file.read())))
            rgb = img.convert("RGB")
            r, g, b = np.asarray(rgb, dtype=np.float32).reshape(-1, 3).mean(axis=0)
            if mode == "picky" and r > 180 and b > 180 and g < 90:
                return web.Response(status=500, text="Internal Server Error")
            vector = await loop.run_in_executor(
                None, lambda: model.visual.run(model.preprocess(rgb)[None])[0])
            counts["images"] += 1
            extra = {"imageHeight": rgb.height, "imageWidth": rgb.width}
        elif kind == "textual" and "text" in form:
            vector = await loop.run_in_executor(None, model.embed_texts, [str(form["text"])])
            vector = vector[0]
            counts["texts"] += 1
            extra = {}
        else:
            return web.json_response({"detail": "Either image or text must be provided"},
                                     status=400)
        if mode == "garbage":
            return web.json_response({"clip": "sorry, no vector today", **extra})
        if mode == "nested":
            return web.Response(text='{"clip": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                content_type="application/json")
        if mode == "bignum":
            return web.Response(text='{"clip": [' + "9" * 400 + ", 1]}",
                                content_type="application/json")
        if mode == "disagree":
            vector = vector[shuffle]
        if mode == "random" and counts["images"] > honest:
            vector = rng.normal(size=len(vector)).astype(np.float32)
        body = json.dumps({"clip": json.dumps(np.asarray(vector).tolist()), **extra})
        if mode == "drip":
            return await drip(request, body.encode())
        return web.Response(text=body, content_type="application/json")

    app = web.Application(client_max_size=64 << 20)
    app.router.add_get("/ping", ping)
    app.router.add_get("/stats", stats)
    app.router.add_post("/mode", set_mode)
    app.router.add_post("/predict", predict)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--model", default="shapes-clip-mini")
    parser.add_argument("--model-dir", type=Path, help="default: the shipped model of that name")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    parser.add_argument("--serves", help="the model name it answers to (default: --model)")
    parser.add_argument("--honest", type=int, default=1,
                        help="random mode: images answered truthfully first")
    parser.add_argument("--ocr", metavar="NAME",
                        help="also serve ocr under this model name, with rapidocr's weights")
    parser.add_argument("--faces", metavar="NAME",
                        help="also serve facial-recognition under this model name, with "
                             "dlib's real weights")
    args = parser.parse_args()
    app = build(args.model_dir or shipped_model_dir(args.model), args.model, args.mode,
                args.delay, args.threads, args.serves, args.honest, args.faces, args.ocr)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
