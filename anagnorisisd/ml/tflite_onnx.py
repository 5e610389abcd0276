"""A TensorFlow Lite graph written out as ONNX, for the few float32 operators MediaPipe's
small landmark models use, so they run on the ONNX Runtime this project runs everything
else on, with no second runtime.

Read with the `tflite` package (the flatbuffer schema of TFLite, generated code);
written with `onnx`'s helpers. TFLite is NHWC; the ONNX graph is NCHW throughout, its
input included: kernels and per-channel slopes are transposed once here, "SAME" padding
is made explicit from the static shapes, and a reshape reads its input back in NHWC
order, so every output has TFLite's layout and values. Any other operator, or quantised
tensors, is refused by name: a model this does not know is never half-converted. The
tests compare the result with TFLite's own interpreter on the same inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

OPSET = 13
IR_VERSION = 8
"""ONNX IR 8 (opset 13 and up): every ONNX Runtime this project supports reads it."""


class ConversionError(ValueError):
    """The TFLite graph uses something this converter does not write."""


def _options(op: Any, cls: Any) -> Any:
    table = op.BuiltinOptions()
    options = cls()
    options.Init(table.Bytes, table.Pos)
    return options


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class _Writer:
    def __init__(self, model: Any) -> None:
        import tflite

        self.tfl = tflite
        self.model = model
        self.graph = model.Subgraphs(0)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.codes = {v: k for k, v in vars(tflite.BuiltinOperator).items()
                      if not k.startswith("_")}

    # --------------------------------------------------------------- tensors
    def tensor(self, index: int) -> Any:
        return self.graph.Tensors(index)

    def name(self, index: int) -> str:
        return f"t{index}"

    def shape(self, index: int) -> list[int]:
        return [int(v) for v in self.tensor(index).ShapeAsNumpy()]

    def constant(self, index: int) -> NDArray[Any]:
        tensor = self.tensor(index)
        buffer = self.model.Buffers(tensor.Buffer())
        if buffer.DataLength() == 0:
            raise ConversionError(f"tensor {tensor.Name()!r} has no constant data")
        kinds = {self.tfl.TensorType.FLOAT32: np.float32, self.tfl.TensorType.INT32: np.int32}
        kind = kinds.get(tensor.Type())
        if kind is None:
            raise ConversionError(f"tensor {tensor.Name()!r} is not float32 or int32 "
                                  "(quantised models are not converted)")
        raw = buffer.DataAsNumpy().tobytes()
        return np.frombuffer(raw, dtype=kind).reshape(self.shape(index)).copy()

    def init(self, name: str, array: NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    def activation(self, fused: int, out: str, tmp: str) -> None:
        """A fused activation after `tmp`, into `out` (or a plain rename)."""
        kind = self.tfl.ActivationFunctionType
        if fused == kind.NONE:
            self.node("Identity", [tmp], [out])
        elif fused == kind.RELU:
            self.node("Relu", [tmp], [out])
        elif fused == kind.RELU6:
            self.node("Clip", [tmp, self.init(f"{tmp}_lo", np.asarray(0, np.float32)),
                               self.init(f"{tmp}_hi", np.asarray(6, np.float32))], [out])
        else:
            raise ConversionError(f"fused activation {fused} is not converted")

    # ------------------------------------------------------------- operators
    def write(self, i: int) -> None:
        op = self.graph.Operators(i)
        code = self.model.OperatorCodes(op.OpcodeIndex())
        name = self.codes.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        ins = [op.Inputs(k) for k in range(op.InputsLength())]
        out = op.Outputs(0)
        handler = getattr(self, f"op_{name.lower()}", None)
        if handler is None:
            raise ConversionError(f"the TFLite operator {name} is not converted")
        handler(op, ins, out)

    def op_conv_2d(self, op: Any, ins: list[int], out: int, depthwise: bool = False) -> None:
        options = _options(op, self.tfl.DepthwiseConv2DOptions if depthwise
                           else self.tfl.Conv2DOptions)
        kernel = self.constant(ins[1])  # conv: O H W I; depthwise: 1 H W C*m
        _, height, width, channels = self.shape(ins[0])
        if depthwise:
            weights = np.ascontiguousarray(kernel.transpose(3, 0, 1, 2))  # C*m 1 H W
            group = channels
        else:
            weights = np.ascontiguousarray(kernel.transpose(0, 3, 1, 2))  # O I H W
            group = 1
        kh, kw = weights.shape[2], weights.shape[3]
        sh, sw = options.StrideH(), options.StrideW()
        dh, dw = options.DilationHFactor(), options.DilationWFactor()
        pads = [0, 0, 0, 0]
        if options.Padding() == self.tfl.Padding.SAME:
            top, bottom = _same_pads(height, kh, sh, dh)
            left, right = _same_pads(width, kw, sw, dw)
            pads = [top, left, bottom, right]
        inputs = [self.name(ins[0]), self.init(f"w{out}", weights)]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(self.init(f"b{out}", self.constant(ins[2])))
        tmp = f"{self.name(out)}_pre"
        self.node("Conv", inputs, [tmp], kernel_shape=[kh, kw], strides=[sh, sw],
                  dilations=[dh, dw], pads=pads, group=group)
        self.activation(options.FusedActivationFunction(), self.name(out), tmp)

    def op_depthwise_conv_2d(self, op: Any, ins: list[int], out: int) -> None:
        self.op_conv_2d(op, ins, out, depthwise=True)

    def op_prelu(self, op: Any, ins: list[int], out: int) -> None:
        alpha = self.constant(ins[1]).reshape(-1)
        self.node("PRelu", [self.name(ins[0]), self.init(f"a{out}", alpha.reshape(-1, 1, 1))],
                  [self.name(out)])

    def op_add(self, op: Any, ins: list[int], out: int) -> None:
        options = _options(op, self.tfl.AddOptions)
        tmp = f"{self.name(out)}_pre"
        self.node("Add", [self.name(ins[0]), self.name(ins[1])], [tmp])
        self.activation(options.FusedActivationFunction(), self.name(out), tmp)

    def op_max_pool_2d(self, op: Any, ins: list[int], out: int) -> None:
        options = _options(op, self.tfl.Pool2DOptions)
        _, height, width, _ = self.shape(ins[0])
        kh, kw = options.FilterHeight(), options.FilterWidth()
        sh, sw = options.StrideH(), options.StrideW()
        pads = [0, 0, 0, 0]
        if options.Padding() == self.tfl.Padding.SAME:
            top, bottom = _same_pads(height, kh, sh, 1)
            left, right = _same_pads(width, kw, sw, 1)
            pads = [top, left, bottom, right]
        tmp = f"{self.name(out)}_pre"
        self.node("MaxPool", [self.name(ins[0])], [tmp], kernel_shape=[kh, kw],
                  strides=[sh, sw], pads=pads)
        self.activation(options.FusedActivationFunction(), self.name(out), tmp)

    def op_pad(self, op: Any, ins: list[int], out: int) -> None:
        paddings = self.constant(ins[1])  # N H W C, (before, after) each
        order = [0, 3, 1, 2]  # to N C H W
        pads = [int(paddings[k][0]) for k in order] + [int(paddings[k][1]) for k in order]
        self.node("Pad", [self.name(ins[0]), self.init(f"p{out}", np.asarray(pads, np.int64))],
                  [self.name(out)], mode="constant")

    def op_reshape(self, op: Any, ins: list[int], out: int) -> None:
        nhwc = f"{self.name(ins[0])}_nhwc"  # TFLite reshapes in NHWC order
        self.node("Transpose", [self.name(ins[0])], [nhwc], perm=[0, 2, 3, 1])
        shape = np.asarray(self.shape(out), dtype=np.int64)
        self.node("Reshape", [nhwc, self.init(f"s{out}", shape)], [self.name(out)])


def convert(data: bytes) -> Any:
    """The ONNX model (an onnx.ModelProto) of a TFLite flatbuffer's first graph: one NCHW
    input named as TFLite names it, and its outputs, named as TFLite names them."""
    import tflite

    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        return _convert(model)
    except ConversionError:
        raise
    except Exception as exc:  # a flatbuffer that is not a TFLite model: one line
        raise ConversionError(f"not a TFLite model this can read ({type(exc).__name__}: "
                              f"{exc})") from None


def _convert(model: Any) -> Any:
    from onnx import TensorProto, checker, helper

    if model.SubgraphsLength() != 1:
        raise ConversionError("only single-graph TFLite models are converted")
    writer = _Writer(model)
    graph = writer.graph
    if graph.InputsLength() != 1:
        raise ConversionError("only single-input TFLite models are converted")
    for i in range(graph.OperatorsLength()):
        writer.write(i)
    source = graph.Inputs(0)
    n, h, w, c = writer.shape(source)
    inputs = [helper.make_tensor_value_info(writer.name(source), TensorProto.FLOAT,
                                            [n, c, h, w])]
    outputs = []
    for k in range(graph.OutputsLength()):
        index = graph.Outputs(k)
        label = writer.tensor(index).Name().decode()
        writer.node("Identity", [writer.name(index)], [label])
        outputs.append(helper.make_tensor_value_info(label, TensorProto.FLOAT,
                                                     writer.shape(index)))
    input_name = writer.tensor(source).Name().decode()
    writer.nodes.insert(0, helper.make_node("Identity", [input_name], [writer.name(source)]))
    inputs[0].name = input_name
    onnx_graph = helper.make_graph(writer.nodes, "tflite", inputs, outputs,
                                   writer.initializers)
    onnx_model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="anagnorisisd.ml.tflite_onnx")
    onnx_model.ir_version = IR_VERSION  # what ONNX Runtime 1.17 and later read
    checker.check_model(onnx_model)
    return onnx_model
