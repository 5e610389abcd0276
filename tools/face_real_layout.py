"""immich's default face models at their real sizes, with random weights, in immich's layout.

buffalo_l's detection/model.onnx is SCRFD-10G with landmarks (insightface's det_10g) and
its recognition/model.onnx an ArcFace ResNet-50 trained on WebFace600K (w600k_r50). No
weights can be downloaded here, so these graphs rebuild both architectures layer for layer
(the shapes, operators and multiply-adds of the published definitions: insightface's
``scrfd_10g_bnkps`` config and ``iresnet50``) with random weights. Inference costs what the
real models cost; what comes out means nothing. Batch norms that follow a convolution are
folded into it, as ONNX Runtime folds them at load; the pre-activation ones of the
ResNet-50 (before a padded convolution, so not foldable) are kept.

SCRFD-10G: a ResNetV1e backbone (deep stem 3x3 convs 3-28-28-56, max pool, BasicBlocks 3,
4, 2, 3 of 56, 88, 88, 224 channels, average-pool shortcuts), a PAFPN neck of 56 channels
over strides 8, 16 and 32, and a head per stride of three 3x3 convs of 80 channels shared
by scores, boxes and landmarks, two anchors per cell: the nine outputs in insightface's
order, rows (cells x anchors, k). 10.0 G multiply-adds at VGA (640 x 480, where the SCRFD
paper counts its 10 GF), 13.3 G at immich's 640 x 640; 16.9 MB, as det_10g.onnx.

ArcFace R50: a 3x3 stem of 64 channels with PReLU, improved-residual blocks 3, 4, 14, 3 of
64, 128, 256, 512 channels (BN, conv, BN, PReLU, conv stride, BN), BN, a 25,088 x 512
fully connected layer and a final BN: (N, 3, 112, 112) in, (N, 512) out, 6.3 G
multiply-adds; 174 MB, as w600k_r50.onnx.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
ANCHORS = 2


@dataclass
class Graph:
    """A graph under construction: nodes, initialisers and a count of multiply-adds at a
    given input size (for the docstring's figures)."""

    rng: np.random.Generator
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    macs: int = 0
    n: int = 0

    def name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}_{self.n}"

    def weight(self, array: np.ndarray, dtype: type = np.float32) -> str:
        name = self.name("w")
        self.inits.append(numpy_helper.from_array(np.asarray(array).astype(dtype), name))
        return name

    def op(self, kind: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, size: tuple[int, int],
             stride: int = 1, gain: float = 1.0, bias: float = 0.0
             ) -> tuple[str, tuple[int, int]]:
        """A convolution (a batch norm after it folded into its bias); He-initialised, so
        activations stay finite through dozens of random layers."""
        w = self.rng.normal(0, gain * np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))
        b = np.full(cout, bias) + self.rng.normal(0, 0.01, cout)
        pad = k // 2
        out = self.op("Conv", [x, self.weight(w), self.weight(b)], kernel_shape=[k, k],
                      strides=[stride, stride], pads=[pad] * 4)
        h, w_ = (size[0] + 2 * pad - k) // stride + 1, (size[1] + 2 * pad - k) // stride + 1
        self.macs += cin * cout * k * k * h * w_
        return out, (h, w_)

    def batch_norm(self, x: str, channels: int) -> str:
        scale = self.weight(self.rng.uniform(0.8, 1.2, channels))
        shift = self.weight(self.rng.normal(0, 0.05, channels))
        mean = self.weight(np.zeros(channels))
        var = self.weight(np.ones(channels))
        return self.op("BatchNormalization", [x, scale, shift, mean, var], epsilon=1e-5)

    def prelu(self, x: str, channels: int) -> str:
        return self.op("PRelu", [x, self.weight(np.full((channels, 1, 1), 0.25))])

    def save(self, graph_name: str, inputs: list[onnx.ValueInfoProto],
             outputs: list[onnx.ValueInfoProto], path: Path) -> None:
        graph = helper.make_graph(self.nodes, graph_name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))  # over 2 GB only with external data: never here
        onnx.checker.check_model(str(path))


# ------------------------------------------------------------------ SCRFD-10G
def _basic_block(g: Graph, x: str, cin: int, cout: int, stride: int,
                 size: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """ResNetV1e's BasicBlock; the shortcut of a block that changes size is an average
    pool then a 1x1 convolution (``avg_down``)."""
    y, out_size = g.conv(x, cin, cout, 3, size, stride)
    y = g.op("Relu", [y])
    y, _ = g.conv(y, cout, cout, 3, out_size, gain=0.3)
    shortcut = x
    if stride != 1 or cin != cout:
        if stride != 1:
            shortcut = g.op("AveragePool", [x], kernel_shape=[stride, stride],
                            strides=[stride, stride], ceil_mode=1)
        shortcut, _ = g.conv(shortcut, cin, cout, 1, out_size)
    return g.op("Relu", [g.op("Add", [y, shortcut])]), out_size


def _upsample(g: Graph, x: str) -> str:
    scales = g.weight(np.array([1, 1, 2, 2], np.float32))
    return g.op("Resize", [x, "", scales], mode="nearest")


def scrfd_10g(path: Path, seed: int = 0, score_bias: float = 0.3,
              size: tuple[int, int] = (640, 640)) -> int:
    """Write det_10g's architecture with random weights; returns its multiply-adds at
    `size`. `score_bias` sets how many anchors pass a threshold (random weights find
    random faces; the bench wants a few per photo)."""
    g = Graph(np.random.default_rng(seed))
    x, s = "input.1", size
    for cin, cout, stride in ((3, 28, 2), (28, 28, 1), (28, 56, 1)):  # the deep stem
        x, s = g.conv(x, cin, cout, 3, s, stride)
        x = g.op("Relu", [x])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    s = ((s[0] + 1) // 2, (s[1] + 1) // 2)
    levels: list[tuple[str, int, tuple[int, int]]] = []
    cin = 56
    for blocks, planes, stride in zip((3, 4, 2, 3), (56, 88, 88, 224), (1, 2, 2, 2),
                                      strict=True):
        for b in range(blocks):
            x, s = _basic_block(g, x, cin, planes, stride if b == 0 else 1, s)
            cin = planes
        levels.append((x, planes, s))
    # PAFPN from stride 8: laterals, top-down, 3x3 smoothing, bottom-up, 3x3 again
    lateral = [g.conv(x, c, 56, 1, s)[0] for x, c, s in levels[1:]]
    sizes = [s for _, _, s in levels[1:]]
    for i in (2, 1):
        lateral[i - 1] = g.op("Add", [lateral[i - 1], _upsample(g, lateral[i])])
    inner = [g.conv(x, 56, 56, 3, s)[0] for x, s in zip(lateral, sizes, strict=True)]
    for i in (0, 1):
        down, _ = g.conv(inner[i], 56, 56, 3, sizes[i], 2)
        inner[i + 1] = g.op("Add", [inner[i + 1], down])
    outs = [inner[0]] + [g.conv(inner[i], 56, 56, 3, sizes[i])[0] for i in (1, 2)]
    heads: dict[str, list[str]] = {"score": [], "bbox": [], "kps": []}
    for feature, s in zip(outs, sizes, strict=True):  # strides 8, 16, 32
        y, c = feature, 56
        for _ in range(3):  # stacked convs shared by the three outputs (cls_reg_share)
            y, _ = g.conv(y, c, 80, 3, s)
            y, c = g.op("Relu", [y]), 80
        for head, width in (("score", 1), ("bbox", 4), ("kps", 10)):
            gain, bias = {"score": (0.02, score_bias), "bbox": (0.05, 1.5),
                          "kps": (0.05, 0.0)}[head]
            raw, _ = g.conv(y, 80, ANCHORS * width, 3, s, gain=gain, bias=bias)
            if head == "score":
                raw = g.op("Sigmoid", [raw])
            elif head == "bbox":  # insightface multiplies by a learnt scale per stride
                raw = g.op("Mul", [raw, g.weight(np.array(1.0, np.float32))])
            raw = g.op("Transpose", [raw], perm=[0, 2, 3, 1])
            rows = g.op("Reshape", [raw, g.weight(np.array([-1, width]), np.int64)])
            heads[head].append(rows)
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", w])
               for head, w in (("score", 1), ("bbox", 4), ("kps", 10)) for n in heads[head]]
    g.save("scrfd_10g_random", [helper.make_tensor_value_info(
        "input.1", TensorProto.FLOAT, [1, 3, "h", "w"])], outputs, path)
    return g.macs


# ------------------------------------------------------------------ ArcFace R50
def arcface_r50(path: Path, seed: int = 1) -> int:
    """Write w600k_r50's architecture with random weights; returns its multiply-adds for
    one 112 x 112 face."""
    g = Graph(np.random.default_rng(seed))
    s = (112, 112)
    x, s = g.conv("input.1", 3, 64, 3, s)
    x = g.prelu(x, 64)
    cin = 64
    for blocks, planes in zip((3, 4, 14, 3), (64, 128, 256, 512), strict=True):
        for b in range(blocks):
            stride = 2 if b == 0 else 1
            y = g.batch_norm(x, cin)
            y, _ = g.conv(y, cin, planes, 3, s)
            y = g.prelu(y, planes)
            y, out_size = g.conv(y, planes, planes, 3, s, stride, gain=0.3)
            shortcut = x
            if b == 0:
                shortcut, _ = g.conv(x, cin, planes, 1, s, stride)
            x, s, cin = g.op("Add", [y, shortcut]), out_size, planes
    x = g.batch_norm(x, 512)
    x = g.op("Flatten", [x])
    fc = g.rng.normal(0, np.sqrt(1.0 / (512 * 7 * 7)), (512 * 7 * 7, 512))
    x = g.op("Gemm", [x, g.weight(fc), g.weight(np.zeros(512))])
    g.macs += 512 * 7 * 7 * 512
    g.batch_norm(x, 512)
    g.nodes[-1].output[0] = "683"  # the output's name in w600k_r50.onnx
    g.save("arcface_r50_random", [helper.make_tensor_value_info(
        "input.1", TensorProto.FLOAT, ["None", 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["None", 512])], path)
    return g.macs


def write_real_size_model(root: Path, seed: int = 0, score_bias: float = 0.3) -> Path:
    """A whole buffalo_l-shaped folder (root/detection, root/recognition); returns root."""
    scrfd_10g(root / "detection" / "model.onnx", seed, score_bias)
    arcface_r50(root / "recognition" / "model.onnx", seed + 1)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where detection/ and recognition/ go")
    args = parser.parse_args()
    det = scrfd_10g(args.folder / "detection" / "model.onnx", size=(480, 640))
    rec = arcface_r50(args.folder / "recognition" / "model.onnx")
    print(f"SCRFD-10G: {det / 1e9:.2f} G multiply-adds at VGA (640 x 480, as the paper "
          f"counts); ArcFace R50: {rec / 1e9:.2f} G per face")


if __name__ == "__main__":
    main()
