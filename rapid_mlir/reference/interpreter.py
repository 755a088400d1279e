"""The reference interpreter: runs an `nn` module's entry function in NumPy float32.

Each `nn` op is bound, through xDSL's `Interpreter` and `@impl`, to the kernel of the
same name in `rapid_mlir.reference.kernels`; results are stored in the element type
the IR declares (f16 results are computed in float32, then rounded). This is the
oracle of every differential test in the project.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, TensorType
from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    PythonValues,
    ReturnedValues,
    impl,
    impl_terminator,
    register_impls,
)
from xdsl.interpreters.func import FuncFunctions

from rapid_mlir.dialects import nn, rapid_tile
from rapid_mlir.reference import kernels as K
from rapid_mlir.reference.signature import ReferenceError, check_inputs, find_entry, signature
from rapid_mlir.weights import WeightStore, numpy_dtype



def _cast(op, arrays) -> PythonValues:
    """Stores each kernel result in the NumPy type of the op's declared result."""
    out = []
    for res, arr in zip(op.results, arrays, strict=True):
        assert isinstance(res.type, TensorType)
        arr = np.asarray(arr).astype(numpy_dtype(res.type.get_element_type()), copy=False)
        if arr.shape != tuple(res.type.get_shape()):
            raise ReferenceError(
                f"{op.name}: the kernel produced shape {arr.shape} but the IR declares {res.type}"
            )
        out.append(arr)
    return tuple(out)


def _ints(attr) -> tuple[int, ...]:
    return nn.ints(attr)


def _float(attr) -> float | None:
    return None if attr is None else float(attr.value.data)


@register_impls
class NNFunctions(InterpreterFunctions):
    """NumPy implementations of every `nn` op."""

    def __init__(self, weights: WeightStore | None = None):
        self.weights = weights or WeightStore()

    @impl(nn.ConstantOp)
    def run_constant(self, interp: Interpreter, op: nn.ConstantOp, args: PythonValues):
        value: DenseIntOrFPElementsAttr = op.value
        dtype = numpy_dtype(value.get_element_type())
        arr = np.frombuffer(value.data.data, dtype=dtype.newbyteorder("<"))
        return _cast(op, [arr.reshape(value.get_shape())])

    @impl(nn.WeightOp)
    def run_weight(self, interp: Interpreter, op: nn.WeightOp, args: PythonValues):
        return (self.weights.get(op.weight_name.data, op.output.type),)

    @impl(nn.Conv2DOp)
    def run_conv2d(self, interp: Interpreter, op: nn.Conv2DOp, args: PythonValues):
        bias = args[2] if len(args) > 2 else None
        lo, hi = op.act_bounds()
        return _cast(op, [K.conv2d(args[0], args[1], bias, strides=_ints(op.strides), pads=_ints(op.pads),
                                   dilations=_ints(op.dilations), groups=op.groups.value.data,
                                   act_min=lo, act_max=hi)])

    @impl(nn.MatmulOp)
    def run_matmul(self, interp: Interpreter, op: nn.MatmulOp, args: PythonValues):
        return _cast(op, [K.matmul(*args)])

    @impl(nn.GemmOp)
    def run_gemm(self, interp: Interpreter, op: nn.GemmOp, args: PythonValues):
        c = args[2] if len(args) > 2 else None
        lo, hi = op.act_bounds()
        return _cast(op, [K.gemm(args[0], args[1], c, trans_a=op.trans_a is not None,
                                 trans_b=op.trans_b is not None, alpha=_float(op.alpha), beta=_float(op.beta),
                                 act_min=lo, act_max=hi)])

    @impl(nn.AddOp)
    def run_add(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.add(*args)])

    @impl(nn.SubOp)
    def run_sub(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.sub(*args)])

    @impl(nn.MulOp)
    def run_mul(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.mul(*args)])

    @impl(nn.DivOp)
    def run_div(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.div(*args)])

    @impl(nn.MaxOp)
    def run_max(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.maximum(*args)])

    @impl(nn.MinOp)
    def run_min(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.minimum(*args)])

    @impl(nn.ReluOp)
    def run_relu(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.relu(args[0])])

    @impl(nn.SigmoidOp)
    def run_sigmoid(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.sigmoid(args[0])])

    @impl(nn.TanhOp)
    def run_tanh(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.tanh(args[0])])

    @impl(nn.ErfOp)
    def run_erf(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.erf(args[0])])

    @impl(nn.ExpOp)
    def run_exp(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.exp(args[0])])

    @impl(nn.SqrtOp)
    def run_sqrt(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.sqrt(args[0])])

    @impl(nn.PowOp)
    def run_pow(self, interp: Interpreter, op: nn.PowOp, args: PythonValues):
        return _cast(op, [K.pow(args[0], exponent=op.exponent.value.data)])

    @impl(nn.GeluOp)
    def run_gelu(self, interp: Interpreter, op: nn.GeluOp, args: PythonValues):
        return _cast(op, [K.gelu(args[0], approximate=op.approximate.data.value)])

    @impl(nn.ClipOp)
    def run_clip(self, interp: Interpreter, op: nn.ClipOp, args: PythonValues):
        return _cast(op, [K.clip(args[0], min=_float(op.min), max=_float(op.max))])

    @impl(nn.SoftmaxOp)
    def run_softmax(self, interp: Interpreter, op: nn.SoftmaxOp, args: PythonValues):
        return _cast(op, [K.softmax(args[0], axis=op.axis.value.data)])

    @impl(nn.MaxPool2DOp)
    def run_max_pool2d(self, interp: Interpreter, op: nn.MaxPool2DOp, args: PythonValues):
        return _cast(op, [K.max_pool2d(args[0], kernel=_ints(op.kernel), strides=_ints(op.strides),
                                       pads=_ints(op.pads), dilations=_ints(op.dilations),
                                       ceil_mode=op.ceil_mode is not None)])

    @impl(nn.AvgPool2DOp)
    def run_avg_pool2d(self, interp: Interpreter, op: nn.AvgPool2DOp, args: PythonValues):
        return _cast(op, [K.avg_pool2d(args[0], kernel=_ints(op.kernel), strides=_ints(op.strides),
                                       pads=_ints(op.pads), ceil_mode=op.ceil_mode is not None,
                                       count_include_pad=op.count_include_pad is not None)])

    @impl(nn.GlobalAvgPoolOp)
    def run_global_avg_pool(self, interp: Interpreter, op, args: PythonValues):
        return _cast(op, [K.global_avg_pool(args[0])])

    @impl(nn.BatchNormOp)
    def run_batch_norm(self, interp: Interpreter, op: nn.BatchNormOp, args: PythonValues):
        return _cast(op, [K.batch_norm(*args, epsilon=_float(op.epsilon))])

    @impl(nn.LayerNormOp)
    def run_layer_norm(self, interp: Interpreter, op: nn.LayerNormOp, args: PythonValues):
        bias = args[2] if len(args) > 2 else None
        return _cast(op, [K.layer_norm(args[0], args[1], bias, axis=op.axis.value.data,
                                       epsilon=_float(op.epsilon))])

    @impl(nn.LrnOp)
    def run_lrn(self, interp: Interpreter, op: nn.LrnOp, args: PythonValues):
        return _cast(op, [K.lrn(args[0], size=op.size.value.data, alpha=_float(op.alpha),
                                beta=_float(op.beta), bias=_float(op.bias))])

    @impl(nn.ReduceOp)
    def run_reduce(self, interp: Interpreter, op: nn.ReduceOp, args: PythonValues):
        return _cast(op, [K.reduce(args[0], kind=op.kind.data.value, axes=_ints(op.axes),
                                   keepdims=op.keepdims is not None)])

    @impl(nn.ConcatOp)
    def run_concat(self, interp: Interpreter, op: nn.ConcatOp, args: PythonValues):
        return _cast(op, [K.concat(list(args), axis=op.axis.value.data)])

    @impl(nn.SplitOp)
    def run_split(self, interp: Interpreter, op: nn.SplitOp, args: PythonValues):
        return _cast(op, K.split(args[0], axis=op.axis.value.data, sizes=_ints(op.sizes)))

    @impl(nn.ReshapeOp)
    def run_reshape(self, interp: Interpreter, op: nn.ReshapeOp, args: PythonValues):
        return _cast(op, [K.reshape(args[0], tuple(op.output.type.get_shape()))])

    @impl(nn.FlattenOp)
    def run_flatten(self, interp: Interpreter, op: nn.FlattenOp, args: PythonValues):
        return _cast(op, [K.flatten(args[0], axis=op.axis.value.data)])

    @impl(nn.TransposeOp)
    def run_transpose(self, interp: Interpreter, op: nn.TransposeOp, args: PythonValues):
        return _cast(op, [K.transpose(args[0], perm=_ints(op.perm))])

    @impl(nn.PadOp)
    def run_pad(self, interp: Interpreter, op: nn.PadOp, args: PythonValues):
        return _cast(op, [K.pad(args[0], pads=_ints(op.pads), mode=op.mode.data.value,
                                value=_float(op.value))])

    @impl(nn.GatherOp)
    def run_gather(self, interp: Interpreter, op: nn.GatherOp, args: PythonValues):
        return _cast(op, [K.gather(args[0], args[1], axis=op.axis.value.data)])

    @impl(nn.LstmOp)
    def run_lstm(self, interp: Interpreter, op: nn.LstmOp, args: PythonValues):
        x, w, r = args[:3]
        return _cast(op, K.lstm(x, w, r, *_optional(op, args, ("bias", "initial_h", "initial_c")),
                                hidden_size=op.hidden_size.value.data, direction=op.direction.data.value))

    @impl(nn.GruOp)
    def run_gru(self, interp: Interpreter, op: nn.GruOp, args: PythonValues):
        x, w, r = args[:3]
        return _cast(op, K.gru(x, w, r, *_optional(op, args, ("bias", "initial_h")),
                               hidden_size=op.hidden_size.value.data, direction=op.direction.data.value,
                               linear_before_reset=op.linear_before_reset is not None))


@register_impls
class RapidTileFunctions(InterpreterFunctions):
    """Runs a `rapid_tile.kernel` by interpreting its body: the mapping changes how a layer
    runs on the device, never what it computes."""

    @impl(rapid_tile.KernelOp)
    def run_kernel(self, interp: Interpreter, op: rapid_tile.KernelOp, args: PythonValues):
        return interp.run_ssacfg_region(op.body, args, op.layer.data)

    @impl_terminator(rapid_tile.YieldOp)
    def run_yield(self, interp: Interpreter, op: rapid_tile.YieldOp, args: PythonValues):
        return ReturnedValues(args), ()


def _optional(op, args: PythonValues, names: tuple[str, ...]) -> list:
    """The optional operands of an op in declaration order, None where absent."""
    values = dict(zip(op.operands, args))
    return [values[getattr(op, n)] if getattr(op, n) is not None else None for n in names]


class _PerturbingInterpreter(Interpreter):
    """Applies `perturb` to every floating-point value an `nn` op produces (used to
    measure how sensitive a graph's outputs are to rounding; see `fuzz.sensitivity`)."""

    perturb: Callable[[np.ndarray], np.ndarray] | None = None

    def _run_op(self, op, inputs):
        result = super()._run_op(op, inputs)
        if self.perturb is None or not op.name.startswith("nn."):
            return result
        values = tuple(self.perturb(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
                       for v in result.values)
        return result._replace(values=values)


def run(module: ModuleOp, inputs: Mapping[str, np.ndarray], weights: WeightStore | None = None,
        entry: str | None = None,
        perturb: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Runs the entry function on named inputs and returns its named outputs.

    `perturb`, when given, maps every floating-point value an `nn` op produces (weights
    and constants included) to the value the rest of the graph sees; it must return a
    new array (op results may share memory with the weight store)."""
    sig = signature(find_entry(module, entry))
    args = check_inputs(sig, inputs)
    interp = _PerturbingInterpreter(module)
    interp.perturb = perturb
    interp.register_implementations(FuncFunctions())
    interp.register_implementations(NNFunctions(weights))
    interp.register_implementations(RapidTileFunctions())
    try:
        results = interp.call_op(sig.function, tuple(args))
    except ValueError as e:  # a kernel rejected a runtime value, e.g. a gather index
        raise ReferenceError(f"while running @{sig.function.sym_name.data}: {e}") from None
    return {name: np.asarray(r) for (name, _), r in zip(sig.outputs, results, strict=True)}
