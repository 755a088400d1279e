"""`OnnxGraph`: writes an ONNX graph node by node, the way PyTorch's exporter lays it out.

    g = OnnxGraph("mlp", seed=0)
    x = g.input("input", [1, 64])
    y = g.relu(g.linear(x, "fc1", 64, 32))
    model = g.finish({"logits": g.linear(y, "fc2", 32, 10)})

Node names follow the TorchScript exporter (`/fc1/Gemm`), parameters are initializers
named after the PyTorch module that owns them (`fc1.weight`, `bn1.running_var`), and
layers use the exporter's operators: `Conv` (with bias, or followed by
`BatchNormalization`), `Gemm` with `transB=1` for `nn.Linear` on a matrix, `MatMul` +
`Add` for `nn.Linear` on a 3-D tensor, `Clip` with constant bounds for `ReLU6`.

Every weight comes from one `numpy.random.Generator` seeded once, in the order the layers
are written, so a model is a function of its seed and configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto
from onnx import helper as oh
from onnx import numpy_helper as onh

OPSET = 17
"""The opset the zoo writes: the first with LayerNormalization, and what
`torch.onnx.export` has written by default since PyTorch 2.0."""

IR_VERSION = 10
"""Readable by every onnxruntime since 1.20 (onnx 1.17+ would stamp a newer version)."""


class OnnxGraph:
    """Nodes, initializers and inputs of one ONNX graph under construction."""

    def __init__(self, name: str, seed: int):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self._init_names: set[str] = set()
        self._node_names: dict[str, int] = {}

    # -- graph plumbing ---------------------------------------------------------------

    def input(self, name: str, shape: Sequence[int], elem: int = TensorProto.FLOAT) -> str:
        """Declares a graph input; returns its name."""
        self.inputs.append(oh.make_tensor_value_info(name, elem, list(shape)))
        return name

    def init(self, name: str, array) -> str:
        """Adds an initializer (float64 arrays are stored as float32); returns its name."""
        array = np.asarray(array)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        if name in self._init_names:
            raise ValueError(f"initializer '{name}' is written twice (two layers with one scope?)")
        self._init_names.add(name)
        self.initializers.append(onh.from_array(array, name))
        return name

    def const(self, name: str, values, dtype=np.float32) -> str:
        """A small constant initializer (shapes, axes, scalars), written once per name."""
        if name not in self._init_names:
            self.init(name, np.asarray(values, dtype))
        return name

    def node(self, op: str, inputs: Sequence[str], scope: str, outputs: int = 1, **attrs) -> str | list[str]:
        """Appends one node named `/scope/Op` (the exporter's spelling, made unique with a
        `_N` suffix); returns its output name, or the list of them when `outputs` > 1."""
        base = f"/{scope}/{op}" if scope else f"/{op}"
        count = self._node_names.get(base, 0)
        self._node_names[base] = count + 1
        name = base if count == 0 else f"{base}_{count}"
        outs = [f"{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(oh.make_node(op, list(inputs), outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def finish(self, outputs: Mapping[str, str]) -> onnx.ModelProto:
        """The checked model; `outputs` maps each graph output name to the tensor it is.

        The producing node's output is renamed to the graph output's name, as the
        exporter does, so no Identity nodes are needed."""
        renames = {tensor: name for name, tensor in outputs.items()}
        for n in self.nodes:
            for i, out in enumerate(n.output):
                n.output[i] = renames.get(out, out)
            for i, inp in enumerate(n.input):
                n.input[i] = renames.get(inp, inp)
        graph = oh.make_graph(self.nodes, self.name, self.inputs, [], self.initializers)
        model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="rapid_mlir.models.zoo")
        # Strict shape inference (what check_model's full_check adds) runs here, on the
        # graph without its weights, and also gives the outputs their declared shapes.
        shapes = infer_shapes(model, outputs=list(outputs))
        model.graph.output.extend(oh.make_tensor_value_info(name, TensorProto.FLOAT, shapes[name])
                                  for name in outputs)
        onnx.checker.check_model(model)
        return model

    # -- seeded parameters --------------------------------------------------------------

    def he(self, shape: Sequence[int], fan_in: int) -> np.ndarray:
        """He (Kaiming) normal initialisation: std sqrt(2 / fan_in), which keeps the second
        moment of activations constant through ReLU layers."""
        # Drawn in float32 directly: VGG-16's 138M weights would take twice the memory otherwise.
        return self.rng.standard_normal(tuple(shape), dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))

    def uniform(self, shape: Sequence[int], bound: float) -> np.ndarray:
        """Uniform in [-bound, bound] (PyTorch's default for recurrent layers)."""
        return self.rng.uniform(-bound, bound, size=tuple(shape)).astype(np.float32)

    def small_bias(self, n: int) -> np.ndarray:
        """A bias near zero: non-zero so that a dropped bias would show, small so that it
        does not dominate the He-scaled product."""
        return self.rng.normal(0.0, 0.05, size=n).astype(np.float32)

    # -- layers -------------------------------------------------------------------------

    def conv(self, x: str, scope: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None,
             group: int = 1, bias: bool = True) -> str:
        """`nn.Conv2d` (square kernel, symmetric padding, `k // 2` by default)."""
        pad = k // 2 if pad is None else pad
        fan_in = cin // group * k * k
        ins = [x, self.init(f"{scope}.weight", self.he((cout, cin // group, k, k), fan_in))]
        if bias:
            ins.append(self.init(f"{scope}.bias", self.small_bias(cout)))
        return self.node("Conv", ins, scope, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, group=group, dilations=[1, 1])

    def batch_norm(self, x: str, scope: str, c: int, gamma: float = 1.0) -> str:
        """`nn.BatchNorm2d` in eval mode. The statistics are near the identity (gamma near
        `gamma`, beta and mean near 0, var near 1): with He-initialised convolutions in
        front, activations already have unit second moment, so this keeps them there
        while every channel still gets a different affine map."""
        fields = (("weight", gamma * self.rng.uniform(0.9, 1.1, c)), ("bias", self.rng.normal(0, 0.05, c)),
                  ("running_mean", self.rng.normal(0, 0.05, c)), ("running_var", self.rng.uniform(0.9, 1.1, c)))
        ins = [x] + [self.init(f"{scope}.{field}", arr) for field, arr in fields]
        return self.node("BatchNormalization", ins, scope, epsilon=1e-5, momentum=0.9)

    def relu(self, x: str, scope: str = "") -> str:
        """`nn.ReLU`."""
        return self.node("Relu", [x], scope)

    def relu6(self, x: str, scope: str = "") -> str:
        """`nn.ReLU6` as the exporter writes it: Clip with constant min 0 and max 6."""
        return self.node("Clip", [x, self.const("relu6.min", 0.0), self.const("relu6.max", 6.0)], scope)

    def max_pool(self, x: str, scope: str, k: int, stride: int, pad: int = 0) -> str:
        """`nn.MaxPool2d` (square window, floor mode)."""
        return self.node("MaxPool", [x], scope, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                         ceil_mode=0)

    def flatten(self, x: str, scope: str = "") -> str:
        """`torch.flatten(x, 1)`."""
        return self.node("Flatten", [x], scope, axis=1)

    def global_pool_flatten(self, x: str) -> str:
        """`AdaptiveAvgPool2d(1)` then `torch.flatten(x, 1)`."""
        return self.flatten(self.node("GlobalAveragePool", [x], "avgpool"))

    def linear(self, x: str, scope: str, fin: int, fout: int) -> str:
        """`nn.Linear` on a matrix: Gemm with the [out, in] weight and `transB=1`."""
        w = self.init(f"{scope}.weight", self.he((fout, fin), fin))
        b = self.init(f"{scope}.bias", self.small_bias(fout))
        return self.node("Gemm", [x, w, b], scope, alpha=1.0, beta=1.0, transB=1)

    def linear_3d(self, x: str, scope: str, fin: int, fout: int) -> str:
        """`nn.Linear` on a [batch, seq, in] tensor: MatMul by the transposed weight, then
        Add of the bias (the exporter stores the weight already transposed, [in, out])."""
        w = self.init(f"{scope}.weight", self.he((fin, fout), fin))
        y = self.node("MatMul", [x, w], scope)
        return self.node("Add", [y, self.init(f"{scope}.bias", self.small_bias(fout))], scope)


def infer_shapes(model: onnx.ModelProto, outputs: Sequence[str] = ()) -> dict[str, tuple[int, ...]]:
    """The static shape of every tensor a node computes and of the graph inputs and
    outputs (plus `outputs`, tensors to declare as outputs first), by ONNX shape
    inference. It runs on a copy of the graph whose float initializers are graph inputs
    of their shape: inference needs only the integer constants' values, and copying a
    large model's weights would be slow."""
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    g = light.graph
    g.name = model.graph.name
    g.node.extend(model.graph.node)
    g.input.extend(model.graph.input)
    g.output.extend(model.graph.output)
    g.output.extend(onnx.ValueInfoProto(name=name) for name in outputs)
    for t in model.graph.initializer:
        if t.data_type == TensorProto.INT64:
            g.initializer.append(t)
        else:
            g.input.append(oh.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    inferred = onnx.shape_inference.infer_shapes(light, strict_mode=True).graph
    return {info.name: tuple(d.dim_value for d in info.type.tensor_type.shape.dim)
            for info in [*inferred.input, *inferred.value_info, *inferred.output]}
