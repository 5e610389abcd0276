"""Reading the text in a picture: PaddleOCR's PP-OCR models, run by rapidocr.

rapidocr does the pre- and post-processing (DB box decoding, crops, the 180-degree line
classifier, CTC decoding with the character list inside each recognition graph); this
module only chooses the graphs, keeps rapidocr's detection scores beside its text scores,
and says what a line is here. Three kinds of model:

- the weights inside the rapidocr wheel (PP-OCRv6 small, Apache-2.0): the default, so
  text is read offline from the first start;
- immich's published models (`PP-OCRv5_mobile`, `EN__PP-OCRv5_mobile`, …) installed in
  immich's layout, DATA_DIR/models/ocr/NAME/{detection,recognition}/model.onnx;
- immich workers, through the `ocr` entry (ml.remote_text), which answer the same shape.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import util as import_util
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.slot import LocalModel

WHEEL_MODEL = "PP-OCRv6_small"
"""The default: the detection and recognition graphs shipped inside the rapidocr wheel."""
OCR_MODELS = {
    WHEEL_MODEL: "Chinese, Japanese and English; inside the rapidocr wheel (no download)",
    "PP-OCRv5_server": "Chinese, Japanese and English",
    "PP-OCRv5_mobile": "Chinese, Japanese and English",
    "EN__PP-OCRv5_mobile": "English only",
    "EL__PP-OCRv5_mobile": "Greek and English",
    "KOREAN__PP-OCRv5_mobile": "Korean and English",
    "LATIN__PP-OCRv5_mobile": "Latin-script languages",
    "ESLAV__PP-OCRv5_mobile": "Russian, Belarusian, Ukrainian and English",
    "TH__PP-OCRv5_mobile": "Thai and English",
}
"""The text models: the wheel's, then immich's by immich's names and languages (as its
settings page lists them)."""
LAYOUT = ("detection/model.onnx", "recognition/model.onnx")
DETECT_SIDE = 736
"""immich's maxResolution: detection sees the picture with its short side at this size."""
MIN_BOX_SCORE = 0.5
"""immich's detection minScore (DB box threshold)."""
MIN_TEXT_SCORE = 0.9
"""immich's recognition minScore: lines read with less confidence are dropped. It is what
keeps a gravel path or a brick wall from becoming a page of garbage."""
MAX_LINES = 500
"""Lines kept per picture, the most confident first: a page of small print has ~80."""


@dataclass(frozen=True)
class TextLine:
    """One line of text, in the pixels of the picture it was read from."""

    text: str
    quad: tuple[float, ...]
    """Four corners, clockwise from top-left (x1, y1, …, x4, y4): rotated text stays tight."""
    box_score: float
    text_score: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        xs, ys = self.quad[0::2], self.quad[1::2]
        return (min(xs), min(ys), max(xs), max(ys))


class TextModel(Protocol):
    """What reads text: the local graphs or immich workers."""

    @property
    def identity(self) -> str:
        """Names the model and its weights: text read by another identity is read again."""
        ...

    def available(self) -> bool:
        """Whether it can read now (a remote model: some worker serves it)."""
        ...

    def read(self, rgb: NDArray[np.uint8]) -> list[TextLine]:
        """Every line found in an RGB picture, in its pixels."""
        ...

    def status(self) -> dict[str, Any]:
        """Its part of the stage's status (immich workers: each one's state)."""
        ...

    def close(self) -> None:
        """At shutdown: stop what it runs."""
        ...


@dataclass(frozen=True)
class OcrFiles:
    name: str
    detection: Path
    recognition: Path

    def validate(self) -> None:
        for part in (self.detection, self.recognition):
            if not part.is_file():
                raise ModelError(f"text model '{self.name}' lacks {part}")


def wheel_files() -> OcrFiles:
    """The graphs inside the installed rapidocr wheel."""
    spec = import_util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("rapidocr is not installed: pip install rapidocr")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    return OcrFiles(WHEEL_MODEL, models / "PP-OCRv6_det_small.onnx",
                    models / "PP-OCRv6_rec_small.onnx")


def ocr_files(models_dir: Path, name: str) -> OcrFiles:
    if name == WHEEL_MODEL:
        return wheel_files()
    root = models_dir / "ocr" / name
    return OcrFiles(name, root / LAYOUT[0], root / LAYOUT[1])


def _classifier() -> Path:
    """rapidocr's 0/180-degree line classifier, shipped in its wheel: upside-down lines
    (a photo of a sign taken from across the table) are turned before they are read."""
    return wheel_files().detection.parent / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"


class LocalText(LocalModel):
    """The PP-OCR graphs, run here by rapidocr on ONNX Runtime's CPU provider.

    rapidocr loads each graph on first use, so the sessions (and their thread pools) are
    made by the thread that first reads, the pipeline's low-priority text lane."""

    def __init__(self, files: OcrFiles, threads: int = 0, min_text_score: float =
                 MIN_TEXT_SCORE, detect_side: int = DETECT_SIDE) -> None:
        files.validate()
        self.files = files
        self.threads = threads
        self.min_text_score = min_text_score
        self.detect_side = detect_side
        self._engine: Any = None
        self._lock = threading.Lock()
        digest = f"{files.detection.stat().st_size:x}.{files.recognition.stat().st_size:x}"
        self._identity = f"{files.name}:{digest}"

    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                self._engine = _make_engine(self.files, self.threads, self.detect_side)
            return self._engine

    def read(self, rgb: NDArray[np.uint8]) -> list[TextLine]:
        """Detection first; recognition only where it found boxes, so a photo without text
        costs one detection pass."""
        if rgb.ndim != 3 or rgb.shape[0] < 8 or rgb.shape[1] < 8:
            return []
        from rapidocr.main import RapidOCRError
        from rapidocr.utils.process_img import map_boxes_to_original

        engine = self.engine()
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        height, width = bgr.shape[:2]
        with self._lock:  # one picture at a time through rapidocr's shared state
            img, record = engine.preprocess_img(bgr)
            try:
                crops, found = engine.detect_and_crop(img, record)
            except RapidOCRError:  # no box at all: the common case for a photo
                return []
            try:
                crops, _ = engine.cls_and_rotate(crops)
                read = engine.recognize_txt(crops)
            except RapidOCRError:
                return []
        quads = map_boxes_to_original(np.asarray(found.boxes, dtype=np.float32), record,
                                      height, width)
        return keep_lines(quads, found.scores, read.txts, read.scores, self.min_text_score)


def keep_lines(quads: NDArray[np.float32], box_scores: Any, texts: Any, text_scores: Any,
               min_text_score: float) -> list[TextLine]:
    """The lines worth keeping: some text, read with confidence; the most confident first
    when there are more than MAX_LINES, then back in reading order."""
    lines = []
    for i, (quad, text, score) in enumerate(zip(quads, texts or (), text_scores or (),
                                                strict=False)):
        text = " ".join(str(text).split())
        if not text or float(score) < min_text_score:
            continue
        box_score = float(box_scores[i]) if box_scores is not None and i < len(box_scores) \
            else 1.0
        lines.append((i, TextLine(text, tuple(round(float(v), 1) for v in
                                              np.asarray(quad).reshape(-1)[:8]),
                                  round(box_score, 4), round(float(score), 4))))
    if len(lines) > MAX_LINES:
        lines = sorted(sorted(lines, key=lambda p: -p[1].text_score)[:MAX_LINES])
    return [line for _, line in lines]


def _make_engine(files: OcrFiles, threads: int, detect_side: int) -> Any:
    from rapidocr import RapidOCR

    params: dict[str, Any] = {
        "Global.log_level": "error",
        "Global.text_score": 0.0,  # our own threshold, in keep_lines
        "Global.max_side_len": 4096,  # the pipeline's view is already bounded
        "Det.model_path": str(files.detection),
        "Det.limit_side_len": detect_side,
        "Det.box_thresh": MIN_BOX_SCORE,
        "Rec.model_path": str(files.recognition),
        "Cls.model_path": str(_classifier()),
        "EngineConfig.onnxruntime.intra_op_num_threads": threads if threads > 0 else -1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    try:
        return RapidOCR(params=params)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"text model '{files.name}' cannot be loaded: {first}") from None
