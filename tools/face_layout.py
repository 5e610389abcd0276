"""Random-weight face models in the exact layout immich publishes (facial-recognition/NAME).

No face weights can be downloaded here, so exactness is tested on graphs with the real
interfaces and random weights:
- detection/model.onnx: SCRFD with landmarks: input ``input.1`` (1, 3, H, W) with dynamic
  H and W, nine outputs in insightface's order (scores, box distances, landmark offsets
  for strides 8, 16 and 32), two anchors per cell, rows (cells x anchors, k) as in
  buffalo_l's det_10g.onnx;
- recognition/model.onnx: ArcFace: input ``input.1`` (N, 3, 112, 112), one output of 512.
The graphs are tiny (a strided convolution per level), so tests build them in a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STRIDES = (8, 16, 32)
ANCHORS = 2
OPSET = 17


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def detection_graph(path: Path, seed: int = 0, score_bias: float = -2.0,
                    channels: int = 8) -> None:
    """An SCRFD-shaped detector. `score_bias` sets how many anchors pass a threshold."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    outputs: dict[str, list[str]] = {"score": [], "bbox": [], "kps": []}
    for stride in STRIDES:
        w = rng.normal(0, 0.05, (channels, 3, stride, stride))
        inits += [_init(f"w{stride}", w), _init(f"b{stride}", rng.normal(0, 0.1, channels))]
        nodes += [helper.make_node("Conv", ["input.1", f"w{stride}", f"b{stride}"],
                                   [f"f{stride}"], strides=[stride, stride], name=f"Conv_{stride}"),
                  helper.make_node("Relu", [f"f{stride}"], [f"r{stride}"], name=f"Relu_{stride}")]
        for head, width in (("score", 1), ("bbox", 4), ("kps", 10)):
            bias = rng.normal(0, 0.3, ANCHORS * width)
            if head == "score":
                bias += score_bias
            elif head == "bbox":
                bias += 2.0  # distances of a couple of strides: boxes of a plausible size
            inits += [_init(f"{head}w{stride}", rng.normal(0, 0.6, (ANCHORS * width, channels,
                                                                    1, 1))),
                      _init(f"{head}b{stride}", bias)]
            raw = f"{head}{stride}_raw"
            nodes.append(helper.make_node("Conv", [f"r{stride}", f"{head}w{stride}",
                                                   f"{head}b{stride}"], [raw],
                                          name=f"Conv_{head}{stride}"))
            if head == "score":
                nodes.append(helper.make_node("Sigmoid", [raw], [raw + "_s"]))
                raw += "_s"
            elif head == "bbox":
                nodes.append(helper.make_node("Softplus", [raw], [raw + "_p"]))
                raw += "_p"
            nodes.append(helper.make_node("Transpose", [raw], [raw + "_t"], perm=[0, 2, 3, 1]))
            shape = f"shape_{width}"
            if shape not in {i.name for i in inits}:
                inits.append(numpy_helper.from_array(np.array([-1, width], np.int64), shape))
            name = f"{head}_{stride}"
            nodes.append(helper.make_node("Reshape", [raw + "_t", shape], [name]))
            outputs[head].append(name)
    graph_outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", w])
                     for head, w in (("score", 1), ("bbox", 4), ("kps", 10))
                     for n in outputs[head]]
    graph = helper.make_graph(
        nodes, "scrfd_random",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "h", "w"])],
        graph_outputs, inits)
    _save(graph, path)


def recognition_graph(path: Path, seed: int = 1, dim: int = 512) -> None:
    """An ArcFace-shaped recogniser: 112-pixel crops in, `dim` numbers out."""
    rng = np.random.default_rng(seed)
    inits = [_init("cw", rng.normal(0, 0.05, (16, 3, 8, 8))), _init("cb", np.zeros(16)),
             _init("fw", rng.normal(0, 0.02, (16 * 14 * 14, dim))), _init("fb", np.zeros(dim))]
    nodes = [helper.make_node("Conv", ["input.1", "cw", "cb"], ["c"], strides=[8, 8],
                              name="Conv_0"),
             helper.make_node("PRelu", ["c", "slope"], ["p"], name="PRelu_1"),
             helper.make_node("Flatten", ["p"], ["flat"], name="Flatten_2"),
             helper.make_node("Gemm", ["flat", "fw", "fb"], ["683"], name="Gemm_3")]
    inits.append(_init("slope", np.full((16, 1, 1), 0.25)))
    graph = helper.make_graph(
        nodes, "arcface_random",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["None", 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["None", dim])], inits)
    _save(graph, path)


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def write_face_model(root: Path, seed: int = 0, score_bias: float = -2.0) -> Path:
    """A whole model folder (root/detection, root/recognition); returns root."""
    detection_graph(root / "detection" / "model.onnx", seed, score_bias)
    recognition_graph(root / "recognition" / "model.onnx", seed + 1)
    return root
