"""Export of an `nn` entry function to an ONNX model, so onnxruntime can check it.

This is a test oracle, not part of the compile flow: it maps every `nn` op and its
attributes to the ONNX operator it mirrors (opset 20), written independently of the
reference interpreter's attribute handling, so running both and comparing catches
mistakes in either. Needs the `onnx` package (the dev extra).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.reference.signature import find_entry, signature
from rapid_mlir.weights import WeightStore, numpy_dtype

OPSET = 20

_SIMPLE = {
    nn.MatmulOp: "MatMul", nn.AddOp: "Add", nn.SubOp: "Sub", nn.MulOp: "Mul", nn.DivOp: "Div",
    nn.MaxOp: "Max", nn.MinOp: "Min", nn.ReluOp: "Relu", nn.SigmoidOp: "Sigmoid", nn.TanhOp: "Tanh",
    nn.ErfOp: "Erf", nn.ExpOp: "Exp", nn.SqrtOp: "Sqrt", nn.GlobalAvgPoolOp: "GlobalAveragePool",
}
_REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax"}


class _Exporter:
    def __init__(self, weights: WeightStore):
        import onnx.helper as oh
        import onnx.numpy_helper as onh

        self.oh, self.onh = oh, onh
        self.weights = weights
        self.names: dict[SSAValue, str] = {}
        self.nodes: list = []
        self.initializers: list = []
        self.counter = 0

    def fresh(self, hint: str = "t") -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def name(self, value: SSAValue | None) -> str:
        return "" if value is None else self.names[value]

    def const(self, array: np.ndarray, hint: str = "c") -> str:
        name = self.fresh(hint)
        self.initializers.append(self.onh.from_array(np.asarray(array), name))
        return name

    def node(self, op: Operation, onnx_type: str, inputs: list[str], **attrs) -> None:
        outputs = [self.fresh(op.name.replace(".", "_")) for _ in op.results]
        for res, out in zip(op.results, outputs):
            self.names[res] = out
        while inputs and inputs[-1] == "":
            inputs = inputs[:-1]
        self.nodes.append(self.oh.make_node(onnx_type, inputs, outputs, **attrs))

    def export(self, op: Operation) -> None:
        ins = [self.name(v) for v in op.operands]
        if type(op) in _SIMPLE:
            return self.node(op, _SIMPLE[type(op)], ins)
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise NotImplementedError(f"no ONNX export for {op.name}")
        handler(self, op, ins)


def _ints(attr) -> list[int]:
    return [int(v) for v in attr.get_values()]


def _f(attr) -> float:
    return float(attr.value.data)


def _constant(e: _Exporter, op: nn.ConstantOp, ins):
    dtype = numpy_dtype(op.value.get_element_type())
    arr = np.frombuffer(op.value.data.data, dtype=dtype.newbyteorder("<")).reshape(op.value.get_shape())
    e.names[op.output] = e.const(arr.astype(dtype), "const")


def _weight(e: _Exporter, op: nn.WeightOp, ins):
    e.names[op.output] = e.const(e.weights.get(op.weight_name.data, op.output.type), "weight")


def _conv(e: _Exporter, op: nn.Conv2DOp, ins):
    k = list(op.weight.type.get_shape()[2:])
    e.node(op, "Conv", ins, kernel_shape=k, strides=_ints(op.strides), pads=_ints(op.pads),
           dilations=_ints(op.dilations), group=op.groups.value.data)
    _activation(e, op)


def _gemm(e: _Exporter, op: nn.GemmOp, ins):
    e.node(op, "Gemm", ins, transA=int(op.trans_a is not None), transB=int(op.trans_b is not None),
           alpha=_f(op.alpha), beta=_f(op.beta))
    _activation(e, op)


def _activation(e: _Exporter, op: nn.Conv2DOp | nn.GemmOp) -> None:
    """The fused clamp of a conv2d / gemm as the node ONNX writes it after the layer: `Relu`
    for `act_min 0.0` alone, else `Clip` with its bounds as inputs."""
    lo, hi = op.act_bounds()
    if lo is None and hi is None:
        return
    src = e.names[op.output]
    out = e.fresh(op.name.replace(".", "_") + "_act")
    if lo == 0.0 and hi is None:
        e.nodes.append(e.oh.make_node("Relu", [src], [out]))
    else:
        dtype = numpy_dtype(op.output.type.get_element_type())
        bounds = ["" if v is None else e.const(np.array(v, dtype), name) for v, name in ((lo, "min"), (hi, "max"))]
        while bounds and bounds[-1] == "":
            bounds.pop()
        e.nodes.append(e.oh.make_node("Clip", [src, *bounds], [out]))
    e.names[op.output] = out


def _gelu(e: _Exporter, op: nn.GeluOp, ins):
    e.node(op, "Gelu", ins, approximate=op.approximate.data.value)


def _clip(e: _Exporter, op: nn.ClipOp, ins):
    dtype = numpy_dtype(op.input.type.get_element_type())
    lo = "" if op.min is None else e.const(np.array(_f(op.min), dtype), "min")
    hi = "" if op.max is None else e.const(np.array(_f(op.max), dtype), "max")
    e.node(op, "Clip", [ins[0], lo, hi])


def _pow(e: _Exporter, op: nn.PowOp, ins):
    dtype = numpy_dtype(op.input.type.get_element_type())
    e.node(op, "Pow", [ins[0], e.const(np.array(_f(op.exponent), dtype), "exponent")])


def _softmax(e: _Exporter, op: nn.SoftmaxOp, ins):
    e.node(op, "Softmax", ins, axis=op.axis.value.data)


def _max_pool(e: _Exporter, op: nn.MaxPool2DOp, ins):
    e.node(op, "MaxPool", ins, kernel_shape=_ints(op.kernel), strides=_ints(op.strides),
           pads=_ints(op.pads), dilations=_ints(op.dilations), ceil_mode=int(op.ceil_mode is not None))


def _avg_pool(e: _Exporter, op: nn.AvgPool2DOp, ins):
    e.node(op, "AveragePool", ins, kernel_shape=_ints(op.kernel), strides=_ints(op.strides),
           pads=_ints(op.pads), ceil_mode=int(op.ceil_mode is not None),
           count_include_pad=int(op.count_include_pad is not None))


def _batch_norm(e: _Exporter, op: nn.BatchNormOp, ins):
    e.node(op, "BatchNormalization", ins, epsilon=_f(op.epsilon))


def _layer_norm(e: _Exporter, op: nn.LayerNormOp, ins):
    e.node(op, "LayerNormalization", ins, axis=op.axis.value.data, epsilon=_f(op.epsilon))


def _lrn(e: _Exporter, op: nn.LrnOp, ins):
    e.node(op, "LRN", ins, size=op.size.value.data, alpha=_f(op.alpha), beta=_f(op.beta), bias=_f(op.bias))


def _reduce(e: _Exporter, op: nn.ReduceOp, ins):
    axes = _ints(op.axes)
    extra = [e.const(np.array(axes, np.int64), "axes")] if axes else []
    e.node(op, _REDUCE[op.kind.data.value], ins + extra, keepdims=int(op.keepdims is not None))


def _concat(e: _Exporter, op: nn.ConcatOp, ins):
    e.node(op, "Concat", ins, axis=op.axis.value.data)


def _split(e: _Exporter, op: nn.SplitOp, ins):
    e.node(op, "Split", ins + [e.const(np.array(_ints(op.sizes), np.int64), "split")], axis=op.axis.value.data)


def _reshape(e: _Exporter, op: nn.ReshapeOp, ins):
    e.node(op, "Reshape", ins + [e.const(np.array(op.output.type.get_shape(), np.int64), "shape")])


def _flatten(e: _Exporter, op: nn.FlattenOp, ins):
    e.node(op, "Flatten", ins, axis=op.axis.value.data)


def _transpose(e: _Exporter, op: nn.TransposeOp, ins):
    e.node(op, "Transpose", ins, perm=_ints(op.perm))


def _pad(e: _Exporter, op: nn.PadOp, ins):
    dtype = numpy_dtype(op.input.type.get_element_type())
    pads = e.const(np.array(_ints(op.pads), np.int64), "pads")
    value = e.const(np.array(_f(op.value), dtype), "value")
    e.node(op, "Pad", [ins[0], pads, value], mode=op.mode.data.value)


def _gather(e: _Exporter, op: nn.GatherOp, ins):
    e.node(op, "Gather", ins, axis=op.axis.value.data)


def _recurrent(onnx_type: str) -> Callable:
    def export(e: _Exporter, op, ins):
        names = {v: n for v, n in zip(op.operands, ins)}
        get = lambda v: "" if v is None else names[v]  # noqa: E731
        inputs = [ins[0], ins[1], ins[2], get(op.bias), ""]  # "" = sequence_lens
        inputs += [get(op.initial_h)] + ([get(op.initial_c)] if onnx_type == "LSTM" else [])
        attrs = dict(hidden_size=op.hidden_size.value.data, direction=op.direction.data.value)
        if onnx_type == "GRU":
            attrs["linear_before_reset"] = int(op.linear_before_reset is not None)
        e.node(op, onnx_type, inputs, **attrs)

    return export


_HANDLERS: dict[type, Callable] = {
    nn.ConstantOp: _constant, nn.WeightOp: _weight, nn.Conv2DOp: _conv, nn.GemmOp: _gemm,
    nn.GeluOp: _gelu, nn.ClipOp: _clip, nn.PowOp: _pow, nn.SoftmaxOp: _softmax, nn.MaxPool2DOp: _max_pool,
    nn.AvgPool2DOp: _avg_pool, nn.BatchNormOp: _batch_norm, nn.LayerNormOp: _layer_norm,
    nn.LrnOp: _lrn, nn.ReduceOp: _reduce, nn.ConcatOp: _concat, nn.SplitOp: _split,
    nn.ReshapeOp: _reshape, nn.FlattenOp: _flatten, nn.TransposeOp: _transpose, nn.PadOp: _pad,
    nn.GatherOp: _gather, nn.LstmOp: _recurrent("LSTM"), nn.GruOp: _recurrent("GRU"),
}


def _value_info(oh, name: str, typ: TensorType):
    from onnx import helper

    elem = helper.np_dtype_to_tensor_dtype(numpy_dtype(typ.get_element_type()))
    return oh.make_tensor_value_info(name, elem, list(typ.get_shape()))


def to_onnx(module: ModuleOp, weights: WeightStore | None = None, entry: str | None = None):
    """The ONNX ModelProto computing the entry function, with the same input/output names."""
    sig = signature(find_entry(module, entry))
    e = _Exporter(weights or WeightStore())
    fn = sig.function
    for arg, (name, _) in zip(fn.body.block.args, sig.inputs):
        e.names[arg] = name
    returned: list[SSAValue] = []
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            returned = list(op.arguments)
            continue
        e.export(op)
    # Outputs get their external names through Identity nodes (a value may be returned twice).
    for value, (name, _) in zip(returned, sig.outputs):
        e.nodes.append(e.oh.make_node("Identity", [e.name(value)], [name]))
    graph = e.oh.make_graph(
        e.nodes, fn.sym_name.data,
        [_value_info(e.oh, n, t) for n, t in sig.inputs],
        [_value_info(e.oh, n, t) for n, t in sig.outputs],
        initializer=e.initializers,
    )
    return e.oh.make_model(graph, opset_imports=[e.oh.make_opsetid("", OPSET)], ir_version=10)


def run_onnxruntime(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs a model on onnxruntime's CPU provider and returns the named outputs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, inputs)))
