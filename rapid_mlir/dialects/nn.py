"""The `nn` dialect: framework-level neural-network operators on builtin tensors.

This is the top of the rapid_mlir stack: what an importer (ONNX) or a builder writes.
Ops have value semantics on `tensor<...xf32>` (or f16) in NCHW layout and follow the
ONNX operator semantics; `rapid_mlir.reference` gives each op an executable numpy
definition. A network is a `func.func` whose arguments are the model inputs and whose
results are its outputs.

Every op infers its result types from its operands and attributes through
`nn_shapes` (builders take no result types), and its verifier checks the declared
result types against that inference, with messages of the form
`nn.conv2d: weight has 64 input channels per group but input has 3`.

Weights: `nn.constant` holds small data inline as a `dense<...>` attribute;
`nn.weight "name"` refers by name to an array in the module's weight file (see
`rapid_mlir.weights` and docs/nn-dialect.md), so large models print compactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float16Type,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    Signedness,
    StringAttr,
    TensorType,
    UnitAttr,
    f16,
    f32,
    i64,
)
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import Attribute, Dialect, Operation, SpacedOpaqueSyntaxAttribute, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    VarConstraint,
    base,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from rapid_mlir.dialects import nn_shapes as shapes
from rapid_mlir.dialects.nn_shapes import Shape, ShapeError

NAME_ATTR = "nn.name"
"""Argument / result attribute of an entry function giving a tensor its external name."""

# ---------------------------------------------------------------------------
# Attributes
# ---------------------------------------------------------------------------


class GeluApproximation(StrEnum):
    """`none` is the exact erf form; `tanh` the tanh approximation (ONNX Gelu)."""

    NONE = "none"
    TANH = "tanh"


class PadMode(StrEnum):
    CONSTANT = "constant"
    REFLECT = "reflect"
    EDGE = "edge"


class ReduceKind(StrEnum):
    SUM = "sum"
    MEAN = "mean"
    MAX = "max"


class RnnDirection(StrEnum):
    FORWARD = "forward"
    REVERSE = "reverse"
    BIDIRECTIONAL = "bidirectional"


@irdl_attr_definition
class GeluApproximationAttr(EnumAttribute[GeluApproximation], SpacedOpaqueSyntaxAttribute):
    """Which GELU formula an `nn.gelu` computes."""

    name = "nn.gelu_approximation"


@irdl_attr_definition
class PadModeAttr(EnumAttribute[PadMode], SpacedOpaqueSyntaxAttribute):
    """How `nn.pad` fills the border."""

    name = "nn.pad_mode"


@irdl_attr_definition
class ReduceKindAttr(EnumAttribute[ReduceKind], SpacedOpaqueSyntaxAttribute):
    """The combining function of `nn.reduce`."""

    name = "nn.reduce_kind"


@irdl_attr_definition
class RnnDirectionAttr(EnumAttribute[RnnDirection], SpacedOpaqueSyntaxAttribute):
    """The direction(s) in which `nn.lstm` / `nn.gru` walk the sequence."""

    name = "nn.rnn_direction"


# ---------------------------------------------------------------------------
# Helpers shared by builders and verifiers
# ---------------------------------------------------------------------------

FloatProp = FloatAttr[Float32Type]
IntProp = IntegerAttr[I64]


def i64_array(values: Sequence[int]) -> DenseArrayBase:
    """A `array<i64: ...>` property from Python ints."""
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def ints(attr: DenseArrayBase) -> tuple[int, ...]:
    """The Python ints of a `array<i64: ...>` property."""
    return tuple(int(v) for v in attr.get_values())


def shape_of(value: SSAValue | None) -> Shape | None:
    """The static shape of a tensor value, or None for an absent optional operand."""
    if value is None:
        return None
    typ = value.type
    if not isinstance(typ, TensorType):
        raise ShapeError(f"expected a tensor but found {typ}")
    return tuple(typ.get_shape())


def tensor(shape: Sequence[int], element_type: Attribute) -> TensorType:
    return TensorType(element_type, list(shape))


def _value(v: SSAValue | Operation) -> SSAValue:
    return SSAValue.get(v)


def _opt(v: SSAValue | Operation | None) -> list[SSAValue]:
    return [] if v is None else [SSAValue.get(v)]


def element_type(value: SSAValue) -> Attribute:
    assert isinstance(value.type, TensorType)
    return value.type.get_element_type()


def check_storable(op_name: str, typ: TensorType) -> None:
    """Constants and weights hold f32, f16, or signless i32 / i64 data."""
    t = typ.get_element_type()
    if isinstance(t, Float32Type | Float16Type) or _is_index_type(t):
        return
    raise VerifyException(f"{op_name}: element type must be f32, f16, i32 or i64 but is {t}")


def _is_index_type(t: Attribute) -> bool:
    return isinstance(t, IntegerType) and t.width.data in (32, 64) and t.signedness.data == Signedness.SIGNLESS


def check_common(op: IRDLOperation) -> None:
    """Checks every nn op shares: static, non-empty shapes, and no discardable attribute
    that shadows a property (it would be silently ignored)."""
    for name in op.attributes:
        if name in op.properties or name in type(op).get_irdl_definition().properties:
            raise VerifyException(
                f"{op.name}: '{name}' is a property of the op; written in the attribute "
                f"dictionary it would be ignored"
            )
    named = [(f"operand {i}", v) for i, v in enumerate(op.operands)]
    named += [(f"result {i}", v) for i, v in enumerate(op.results)]
    for what, value in named:
        typ = value.type
        if isinstance(typ, TensorType) and any(d < 1 for d in typ.get_shape()):
            raise VerifyException(
                f"{op.name}: {what} has type {typ} but nn ops need static shapes with "
                f"dimensions >= 1"
            )


def _infer(op_name: str, fn, *args) -> Shape | list[Shape]:
    """Runs a shape function for a builder, turning a ShapeError into a VerifyException."""
    try:
        return fn(*args)
    except ShapeError as e:
        raise VerifyException(f"{op_name}: {e}") from None


def act_props(act_min: float | None, act_max: float | None) -> dict[str, Attribute]:
    """The `act_min` / `act_max` properties of a conv2d or gemm builder (absent when None)."""
    props: dict[str, Attribute] = {}
    if act_min is not None:
        props["act_min"] = FloatAttr(act_min, f32)
    if act_max is not None:
        props["act_max"] = FloatAttr(act_max, f32)
    return props


class ActivationBounds:
    """The fused activation clamp of `nn.conv2d` and `nn.gemm`: the result is clamped to
    [act_min, act_max] after the bias (an absent bound is unbounded; relu is `act_min 0.0`,
    ReLU6 `act_min 0.0 act_max 6.0`). A mixin: the ops declare the two properties."""

    def act_bounds(self) -> tuple[float | None, float | None]:
        """(act_min, act_max) as Python floats, None for an absent bound."""
        lo, hi = self.act_min, self.act_max
        return (None if lo is None else float(lo.value.data), None if hi is None else float(hi.value.data))

    def has_activation(self) -> bool:
        return self.act_min is not None or self.act_max is not None

    def _check_act_bounds(self) -> None:
        lo, hi = self.act_bounds()
        for field, v in (("act_min", lo), ("act_max", hi)):
            if v is not None and math.isnan(v):
                raise ShapeError(f"{field} must be a number but is nan")
        if lo is not None and hi is not None and lo > hi:
            raise ShapeError(f"act_min {lo} is greater than act_max {hi}")


class NNOperation(IRDLOperation):
    """Base of the computing `nn` ops: verification by shape inference.

    Subclasses implement `result_shapes()`; `FLOAT_OPERANDS` names the operands that
    must share the result's element type: f32 or f16 (or, for data movement, an integer).
    Every operand and result must have a static shape.
    """

    FLOAT_OPERANDS: ClassVar[tuple[str, ...]] = ()
    ANY_ELEMENT_TYPE: ClassVar[bool] = False
    """Data-movement ops also accept integer tensors (index and shape tensors)."""

    def result_shapes(self) -> list[Shape]:
        raise NotImplementedError

    def verify_(self) -> None:
        check_common(self)
        try:
            expected = self.result_shapes()
        except ShapeError as e:
            raise VerifyException(f"{self.name}: {e}") from None
        elem = self._check_element_types()
        for i, (res, shape) in enumerate(zip(self.results, expected, strict=True)):
            assert isinstance(res.type, TensorType)
            want = tensor(shape, elem)
            if res.type != want:
                which = "result" if len(self.results) == 1 else f"result {i}"
                raise VerifyException(
                    f"{self.name}: {which} has type {res.type} but the operands and "
                    f"attributes give {want}"
                )

    def _check_element_types(self) -> Attribute:
        elem: Attribute | None = None
        first = ""
        for name in self.FLOAT_OPERANDS:
            value = getattr(self, name)
            if value is None:
                continue
            variadic = isinstance(value, Sequence)
            for i, v in enumerate(value if variadic else [value]):
                field = f"{name}[{i}]" if variadic else name
                t = element_type(v)
                allowed = isinstance(t, Float32Type | Float16Type) or (
                    self.ANY_ELEMENT_TYPE and _is_index_type(t))
                if not allowed:
                    kinds = "f32, f16, i32 or i64" if self.ANY_ELEMENT_TYPE else "f32 or f16"
                    raise VerifyException(f"{self.name}: {field} must have element type {kinds} but has {t}")
                if elem is None:
                    elem, first = t, field
                elif t != elem:
                    raise VerifyException(
                        f"{self.name}: {field} has element type {t} but {first} has {elem}"
                    )
        assert elem is not None
        return elem


# ---------------------------------------------------------------------------
# Constants and weights
# ---------------------------------------------------------------------------


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A small constant held inline: `nn.constant dense<[1.0, 2.0]> : tensor<2xf32>`."""

    name = "nn.constant"
    value = prop_def(DenseIntOrFPElementsAttr)
    """the data, with its tensor type"""
    output = result_def(TensorType)
    traits = traits_def(Pure(), ConstantLike())

    def __init__(self, value: DenseIntOrFPElementsAttr):
        super().__init__(properties={"value": value}, result_types=[value.type])

    @staticmethod
    def from_numpy(array) -> ConstantOp:
        """Builds the constant from a numpy array: float16 stays f16, other floats become
        f32, integers i64."""
        import numpy as np

        arr = np.asarray(array)
        if arr.dtype == np.float16:
            arr, elem = arr.astype("<f2"), f16
        elif arr.dtype.kind == "f":
            arr, elem = arr.astype("<f4"), f32
        else:
            arr, elem = arr.astype("<i8"), i64
        typ = TensorType(elem, list(arr.shape))
        return ConstantOp(DenseIntOrFPElementsAttr(typ, BytesAttr(arr.tobytes())))

    def verify_(self) -> None:
        check_common(self)
        check_storable(self.name, self.output.type)
        if self.value.type != self.output.type:
            raise VerifyException(
                f"nn.constant: value has type {self.value.type} but result has type {self.output.type}"
            )

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        pos = parser.pos
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            parser.raise_error("nn.constant expects a dense<...> : tensor<...> value", pos, pos + 1)
        attrs = parser.parse_optional_attr_dict()
        op = cls(value)
        op.attributes |= attrs
        return op

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        printer.print_op_attributes(self.attributes)


@irdl_op_definition
class WeightOp(IRDLOperation):
    """A named array of the module's weight file: `nn.weight "conv1.w" : tensor<64x3x7x7xf32>`."""

    name = "nn.weight"
    weight_name = prop_def(StringAttr)
    """the entry's name in the weight file"""
    output = result_def(TensorType)
    traits = traits_def(Pure(), ConstantLike())
    assembly_format = "$weight_name attr-dict `:` type($output)"

    def __init__(self, name: str, typ: TensorType):
        super().__init__(properties={"weight_name": StringAttr(name)}, result_types=[typ])

    def verify_(self) -> None:
        check_common(self)
        check_storable(self.name, self.output.type)
        if not self.weight_name.data:
            raise VerifyException("nn.weight: weight_name must not be empty")


# ---------------------------------------------------------------------------
# Convolution and matrix products
# ---------------------------------------------------------------------------


@irdl_op_definition
class Conv2DOp(ActivationBounds, NNOperation):
    """2-D convolution (ONNX Conv): NCHW input, OIHW weight, optional bias [O], and an
    optional fused activation clamp to [act_min, act_max]."""

    name = "nn.conv2d"
    input = operand_def(TensorType)
    """N x C x H x W"""
    weight = operand_def(TensorType)
    """O x C/groups x kH x kW"""
    bias = opt_operand_def(TensorType)
    """O, added per output channel"""
    output = result_def(TensorType)
    strides = prop_def(DenseArrayBase.constr(i64))
    """[sH, sW]"""
    pads = prop_def(DenseArrayBase.constr(i64))
    """[top, left, bottom, right]"""
    dilations = prop_def(DenseArrayBase.constr(i64))
    """[dH, dW]"""
    groups = prop_def(IntProp)
    """channel groups; C for depthwise"""
    act_min = opt_prop_def(FloatProp)
    """lower bound of the result, applied after the bias (0.0: a fused relu)"""
    act_max = opt_prop_def(FloatProp)
    """upper bound of the result (6.0 with act_min 0.0: a fused ReLU6)"""
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input", "weight", "bias")
    assembly_format = (
        "$input `,` $weight (`bias` $bias^)? `strides` $strides `pads` $pads "
        "`dilations` $dilations `groups` $groups (`act_min` $act_min^)? (`act_max` $act_max^)? "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, input, weight, bias=None, *, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), groups: int = 1, act_min: float | None = None,
                 act_max: float | None = None):
        x, w, b = _value(input), _value(weight), _opt(bias)
        shape = _infer(self.name, shapes.conv2d, shape_of(x), shape_of(w),
                       shape_of(b[0]) if b else None, strides, pads, dilations, groups)
        super().__init__(
            operands=[x, w, b],
            result_types=[tensor(shape, element_type(x))],
            properties={"strides": i64_array(strides), "pads": i64_array(pads),
                        "dilations": i64_array(dilations), "groups": IntegerAttr(groups, i64)}
            | act_props(act_min, act_max),
        )

    def result_shapes(self) -> list[Shape]:
        self._check_act_bounds()
        return [shapes.conv2d(shape_of(self.input), shape_of(self.weight), shape_of(self.bias),
                              ints(self.strides), ints(self.pads), ints(self.dilations),
                              self.groups.value.data)]


@irdl_op_definition
class GemmOp(ActivationBounds, NNOperation):
    """alpha * op(A) x op(B) + beta * C (ONNX Gemm), the dense / fully-connected layer,
    with an optional fused activation clamp to [act_min, act_max]."""

    name = "nn.gemm"
    lhs = operand_def(TensorType)
    """A: M x K, or K x M with trans_a"""
    rhs = operand_def(TensorType)
    """B: K x N, or N x K with trans_b"""
    bias = opt_operand_def(TensorType)
    """C: broadcastable to M x N"""
    output = result_def(TensorType)
    trans_a = opt_prop_def(UnitAttr)
    trans_b = opt_prop_def(UnitAttr)
    alpha = prop_def(FloatProp)
    beta = prop_def(FloatProp)
    act_min = opt_prop_def(FloatProp)
    """lower bound of the result, applied after the bias (0.0: a fused relu)"""
    act_max = opt_prop_def(FloatProp)
    """upper bound of the result"""
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("lhs", "rhs", "bias")
    assembly_format = (
        "$lhs `,` $rhs (`bias` $bias^)? (`trans_a` $trans_a^)? (`trans_b` $trans_b^)? "
        "`alpha` $alpha `beta` $beta (`act_min` $act_min^)? (`act_max` $act_max^)? "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, lhs, rhs, bias=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=1.0,
                 act_min: float | None = None, act_max: float | None = None):
        a, b = _value(lhs), _value(rhs)
        c = _opt(bias)
        shape = _infer(self.name, shapes.gemm, shape_of(a), shape_of(b),
                       shape_of(c[0]) if c else None, trans_a, trans_b)
        props: dict[str, Attribute] = {"alpha": FloatAttr(alpha, f32), "beta": FloatAttr(beta, f32)}
        props |= act_props(act_min, act_max)
        if trans_a:
            props["trans_a"] = UnitAttr()
        if trans_b:
            props["trans_b"] = UnitAttr()
        super().__init__(operands=[a, b, c], result_types=[tensor(shape, element_type(a))],
                         properties=props)

    def result_shapes(self) -> list[Shape]:
        self._check_act_bounds()
        return [shapes.gemm(shape_of(self.lhs), shape_of(self.rhs), shape_of(self.bias),
                            self.trans_a is not None, self.trans_b is not None)]


# ---------------------------------------------------------------------------
# Elementwise
# ---------------------------------------------------------------------------


class BinaryOperation(NNOperation):
    """Two tensor operands, one result whose shape `SHAPE_FN` gives.

    The elementwise ops use numpy broadcasting; `nn.matmul` overrides SHAPE_FN.
    """

    SHAPE_FN: ClassVar = shapes.broadcast
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("lhs", "rhs")
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs, rhs):
        a, b = _value(lhs), _value(rhs)
        shape = _infer(self.name, type(self).SHAPE_FN, shape_of(a), shape_of(b))
        super().__init__(operands=[a, b], result_types=[tensor(shape, element_type(a))])

    def result_shapes(self) -> list[Shape]:
        return [type(self).SHAPE_FN(shape_of(self.lhs), shape_of(self.rhs))]


@irdl_op_definition
class MatmulOp(BinaryOperation):
    """Matrix product with numpy semantics (ONNX MatMul): batched, broadcasting, 1-D promotion."""

    name = "nn.matmul"
    SHAPE_FN: ClassVar = shapes.matmul


@irdl_op_definition
class AddOp(BinaryOperation):
    """lhs + rhs."""

    name = "nn.add"


@irdl_op_definition
class SubOp(BinaryOperation):
    """lhs - rhs."""

    name = "nn.sub"


@irdl_op_definition
class MulOp(BinaryOperation):
    """lhs * rhs."""

    name = "nn.mul"


@irdl_op_definition
class DivOp(BinaryOperation):
    """lhs / rhs."""

    name = "nn.div"


@irdl_op_definition
class MaxOp(BinaryOperation):
    """max(lhs, rhs)."""

    name = "nn.max"


@irdl_op_definition
class MinOp(BinaryOperation):
    """min(lhs, rhs)."""

    name = "nn.min"


class UnaryOperation(NNOperation):
    """Elementwise unary op: the result has the input's type."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    output = result_def(T)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, input, properties: dict[str, Attribute] | None = None):
        x = _value(input)
        super().__init__(operands=[x], result_types=[x.type], properties=properties or {})

    def result_shapes(self) -> list[Shape]:
        return [shape_of(self.input)]


@irdl_op_definition
class ReluOp(UnaryOperation):
    """max(x, 0)."""

    name = "nn.relu"


@irdl_op_definition
class SigmoidOp(UnaryOperation):
    """1 / (1 + exp(-x))."""

    name = "nn.sigmoid"


@irdl_op_definition
class TanhOp(UnaryOperation):
    """tanh(x)."""

    name = "nn.tanh"


@irdl_op_definition
class ErfOp(UnaryOperation):
    """The Gauss error function."""

    name = "nn.erf"


@irdl_op_definition
class ExpOp(UnaryOperation):
    """exp(x)."""

    name = "nn.exp"


@irdl_op_definition
class SqrtOp(UnaryOperation):
    """sqrt(x)."""

    name = "nn.sqrt"


@irdl_op_definition
class GeluOp(UnaryOperation):
    """GELU: 0.5 x (1 + erf(x / sqrt 2)), or its tanh approximation (ONNX Gelu)."""

    name = "nn.gelu"
    approximate = prop_def(GeluApproximationAttr)
    assembly_format = "$input `approximate` $approximate attr-dict `:` type($input)"

    def __init__(self, input, approximate: str = "none"):
        super().__init__(input, {"approximate": GeluApproximationAttr(GeluApproximation(approximate))})


@irdl_op_definition
class ClipOp(UnaryOperation):
    """min(max(x, min), max); an absent bound is unbounded (ONNX Clip)."""

    name = "nn.clip"
    min = opt_prop_def(FloatProp)
    max = opt_prop_def(FloatProp)
    assembly_format = "$input (`min` $min^)? (`max` $max^)? attr-dict `:` type($input)"

    def __init__(self, input, min: float | None = None, max: float | None = None):
        props: dict[str, Attribute] = {}
        if min is not None:
            props["min"] = FloatAttr(min, f32)
        if max is not None:
            props["max"] = FloatAttr(max, f32)
        super().__init__(input, props)

    def result_shapes(self) -> list[Shape]:
        if self.min is not None and self.max is not None and self.min.value.data > self.max.value.data:
            raise ShapeError(f"min {self.min.value.data} is greater than max {self.max.value.data}")
        return [shape_of(self.input)]


@irdl_op_definition
class PowOp(UnaryOperation):
    """x ** exponent elementwise, the exponent a constant (ONNX `Pow` with a scalar
    exponent; numpy's `power` in the element type: NaN for a negative base and a
    non-integer exponent, inf for 0 to a negative power)."""

    name = "nn.pow"
    exponent = prop_def(FloatProp)
    assembly_format = "$input `exponent` $exponent attr-dict `:` type($input)"

    def __init__(self, input, exponent: float):
        super().__init__(input, {"exponent": FloatAttr(exponent, f32)})

    def result_shapes(self) -> list[Shape]:
        p = float(self.exponent.value.data)
        if not math.isfinite(p):
            raise ShapeError(f"exponent must be a finite number but is {p}")
        return [shape_of(self.input)]


@irdl_op_definition
class SoftmaxOp(UnaryOperation):
    """exp(x) / sum(exp(x)) along `axis` (ONNX Softmax, opset 13)."""

    name = "nn.softmax"
    axis = prop_def(IntProp)
    assembly_format = "$input `axis` $axis attr-dict `:` type($input)"

    def __init__(self, input, axis: int = -1):
        super().__init__(input, {"axis": IntegerAttr(axis, i64)})

    def result_shapes(self) -> list[Shape]:
        return [shapes.softmax(shape_of(self.input), self.axis.value.data)]


# ---------------------------------------------------------------------------
# Pooling and normalisation
# ---------------------------------------------------------------------------


@irdl_op_definition
class MaxPool2DOp(NNOperation):
    """Max pooling over H and W of an NCHW tensor (ONNX MaxPool); padding never wins."""

    name = "nn.max_pool2d"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    kernel = prop_def(DenseArrayBase.constr(i64))
    """[kH, kW]"""
    strides = prop_def(DenseArrayBase.constr(i64))
    pads = prop_def(DenseArrayBase.constr(i64))
    """[top, left, bottom, right]"""
    dilations = prop_def(DenseArrayBase.constr(i64))
    ceil_mode = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    assembly_format = (
        "$input `kernel` $kernel `strides` $strides `pads` $pads `dilations` $dilations "
        "(`ceil_mode` $ceil_mode^)? attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, input, *, kernel, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1),
                 ceil_mode=False):
        x = _value(input)
        shape = _infer(self.name, shapes.pool2d, shape_of(x), kernel, strides, pads, dilations, ceil_mode)
        props = {"kernel": i64_array(kernel), "strides": i64_array(strides),
                 "pads": i64_array(pads), "dilations": i64_array(dilations)}
        if ceil_mode:
            props["ceil_mode"] = UnitAttr()
        super().__init__(operands=[x], result_types=[tensor(shape, element_type(x))], properties=props)

    def result_shapes(self) -> list[Shape]:
        return [shapes.pool2d(shape_of(self.input), ints(self.kernel), ints(self.strides),
                              ints(self.pads), ints(self.dilations), self.ceil_mode is not None)]


@irdl_op_definition
class AvgPool2DOp(NNOperation):
    """Average pooling over H and W (ONNX AveragePool); see count_include_pad."""

    name = "nn.avg_pool2d"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    kernel = prop_def(DenseArrayBase.constr(i64))
    """[kH, kW]"""
    strides = prop_def(DenseArrayBase.constr(i64))
    pads = prop_def(DenseArrayBase.constr(i64))
    """[top, left, bottom, right]"""
    ceil_mode = opt_prop_def(UnitAttr)
    count_include_pad = opt_prop_def(UnitAttr)
    """divide by the window size including zero padding"""
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    assembly_format = (
        "$input `kernel` $kernel `strides` $strides `pads` $pads (`ceil_mode` $ceil_mode^)? "
        "(`count_include_pad` $count_include_pad^)? attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, input, *, kernel, strides=(1, 1), pads=(0, 0, 0, 0), ceil_mode=False,
                 count_include_pad=False):
        x = _value(input)
        shape = _infer(self.name, shapes.pool2d, shape_of(x), kernel, strides, pads, (1, 1), ceil_mode)
        props = {"kernel": i64_array(kernel), "strides": i64_array(strides), "pads": i64_array(pads)}
        if ceil_mode:
            props["ceil_mode"] = UnitAttr()
        if count_include_pad:
            props["count_include_pad"] = UnitAttr()
        super().__init__(operands=[x], result_types=[tensor(shape, element_type(x))], properties=props)

    def result_shapes(self) -> list[Shape]:
        return [shapes.pool2d(shape_of(self.input), ints(self.kernel), ints(self.strides),
                              ints(self.pads), (1, 1), self.ceil_mode is not None)]


@irdl_op_definition
class GlobalAvgPoolOp(NNOperation):
    """Mean over all spatial axes: N x C x ... -> N x C x 1 x ... (ONNX GlobalAveragePool)."""

    name = "nn.global_avg_pool"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(self, input):
        x = _value(input)
        shape = _infer(self.name, shapes.global_pool, shape_of(x))
        super().__init__(operands=[x], result_types=[tensor(shape, element_type(x))])

    def result_shapes(self) -> list[Shape]:
        return [shapes.global_pool(shape_of(self.input))]


@irdl_op_definition
class BatchNormOp(NNOperation):
    """Inference batch norm on axis 1: (x - mean) / sqrt(var + epsilon) * scale + bias."""

    name = "nn.batch_norm"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    bias = operand_def(TensorType)
    mean = operand_def(TensorType)
    var = operand_def(TensorType)
    output = result_def(TensorType)
    epsilon = prop_def(FloatProp)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input", "scale", "bias", "mean", "var")
    assembly_format = (
        "$input `,` $scale `,` $bias `,` $mean `,` $var `epsilon` $epsilon attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, input, scale, bias, mean, var, *, epsilon: float = 1e-5):
        vals = [_value(v) for v in (input, scale, bias, mean, var)]
        shape = _infer(self.name, shapes.batch_norm, shape_of(vals[0]), [shape_of(v) for v in vals[1:]])
        super().__init__(operands=vals, result_types=[tensor(shape, element_type(vals[0]))],
                         properties={"epsilon": FloatAttr(epsilon, f32)})

    def result_shapes(self) -> list[Shape]:
        params = [shape_of(v) for v in (self.scale, self.bias, self.mean, self.var)]
        return [shapes.batch_norm(shape_of(self.input), params)]


@irdl_op_definition
class LayerNormOp(NNOperation):
    """Layer norm over axes [axis, rank) with scale and optional bias (ONNX LayerNormalization)."""

    name = "nn.layer_norm"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    """shape of input[axis:]"""
    bias = opt_operand_def(TensorType)
    """shape of input[axis:]"""
    output = result_def(TensorType)
    axis = prop_def(IntProp)
    epsilon = prop_def(FloatProp)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input", "scale", "bias")
    assembly_format = (
        "$input `,` $scale (`bias` $bias^)? `axis` $axis `epsilon` $epsilon attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, input, scale, bias=None, *, axis: int = -1, epsilon: float = 1e-5):
        x, s, b = _value(input), _value(scale), _opt(bias)
        shape = _infer(self.name, shapes.layer_norm, shape_of(x), shape_of(s),
                       shape_of(b[0]) if b else None, axis)
        super().__init__(operands=[x, s, b], result_types=[tensor(shape, element_type(x))],
                         properties={"axis": IntegerAttr(axis, i64), "epsilon": FloatAttr(epsilon, f32)})

    def result_shapes(self) -> list[Shape]:
        return [shapes.layer_norm(shape_of(self.input), shape_of(self.scale), shape_of(self.bias),
                                  self.axis.value.data)]


@irdl_op_definition
class LrnOp(NNOperation):
    """Local response normalisation across channels (ONNX LRN, as in AlexNet)."""

    name = "nn.lrn"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    size = prop_def(IntProp)
    """number of channels summed over"""
    alpha = prop_def(FloatProp)
    beta = prop_def(FloatProp)
    bias = prop_def(FloatProp)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    assembly_format = (
        "$input `size` $size `alpha` $alpha `beta` $beta `bias` $bias attr-dict "
        "`:` functional-type(operands, results)"
    )

    def __init__(self, input, *, size: int, alpha=1e-4, beta=0.75, bias=1.0):
        x = _value(input)
        shape = _infer(self.name, shapes.lrn, shape_of(x), size)
        super().__init__(operands=[x], result_types=[tensor(shape, element_type(x))],
                         properties={"size": IntegerAttr(size, i64), "alpha": FloatAttr(alpha, f32),
                                     "beta": FloatAttr(beta, f32), "bias": FloatAttr(bias, f32)})

    def result_shapes(self) -> list[Shape]:
        return [shapes.lrn(shape_of(self.input), self.size.value.data)]


@irdl_op_definition
class ReduceOp(NNOperation):
    """Sum, mean or max over `axes` (all axes when empty), keeping them as size 1 with keepdims."""

    name = "nn.reduce"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    kind = prop_def(ReduceKindAttr)
    axes = prop_def(DenseArrayBase.constr(i64))
    keepdims = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    assembly_format = (
        "$kind $input `axes` $axes (`keepdims` $keepdims^)? attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, input, kind: str, axes: Sequence[int], keepdims: bool = True):
        x = _value(input)
        shape = _infer(self.name, shapes.reduce, shape_of(x), axes, keepdims)
        props = {"kind": ReduceKindAttr(ReduceKind(kind)), "axes": i64_array(axes)}
        if keepdims:
            props["keepdims"] = UnitAttr()
        super().__init__(operands=[x], result_types=[tensor(shape, element_type(x))], properties=props)

    def result_shapes(self) -> list[Shape]:
        return [shapes.reduce(shape_of(self.input), ints(self.axes), self.keepdims is not None)]


# ---------------------------------------------------------------------------
# Data movement
# ---------------------------------------------------------------------------


@irdl_op_definition
class ConcatOp(NNOperation):
    """Concatenation along `axis`."""

    name = "nn.concat"
    inputs = var_operand_def(TensorType)
    output = result_def(TensorType)
    axis = prop_def(IntProp)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("inputs",)
    ANY_ELEMENT_TYPE: ClassVar = True
    assembly_format = "$inputs `axis` $axis attr-dict `:` functional-type(operands, results)"

    def __init__(self, inputs, axis: int):
        xs = [_value(v) for v in inputs]
        shape = _infer(self.name, shapes.concat, [shape_of(v) for v in xs], axis)
        super().__init__(operands=[xs], result_types=[tensor(shape, element_type(xs[0]))],
                         properties={"axis": IntegerAttr(axis, i64)})

    def result_shapes(self) -> list[Shape]:
        return [shapes.concat([shape_of(v) for v in self.inputs], self.axis.value.data)]


@irdl_op_definition
class SplitOp(NNOperation):
    """Splits along `axis` into pieces of the given sizes."""

    name = "nn.split"
    input = operand_def(TensorType)
    outputs = var_result_def(TensorType)
    axis = prop_def(IntProp)
    sizes = prop_def(DenseArrayBase.constr(i64))
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    ANY_ELEMENT_TYPE: ClassVar = True
    assembly_format = "$input `axis` $axis `sizes` $sizes attr-dict `:` functional-type(operands, results)"

    def __init__(self, input, axis: int, sizes: Sequence[int]):
        x = _value(input)
        out = _infer(self.name, shapes.split, shape_of(x), axis, sizes)
        super().__init__(operands=[x], result_types=[[tensor(s, element_type(x)) for s in out]],
                         properties={"axis": IntegerAttr(axis, i64), "sizes": i64_array(sizes)})

    def result_shapes(self) -> list[Shape]:
        out = shapes.split(shape_of(self.input), self.axis.value.data, ints(self.sizes))
        if len(out) != len(self.outputs):
            raise ShapeError(f"sizes has {len(out)} entries but the op has {len(self.outputs)} results")
        return out


@irdl_op_definition
class ReshapeOp(NNOperation):
    """Row-major reshape to the result type (same number of elements)."""

    name = "nn.reshape"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    ANY_ELEMENT_TYPE: ClassVar = True
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(self, input, shape: Sequence[int]):
        x = _value(input)
        out = _infer(self.name, shapes.reshape, shape_of(x), tuple(shape))
        super().__init__(operands=[x], result_types=[tensor(out, element_type(x))])

    def result_shapes(self) -> list[Shape]:
        return [shapes.reshape(shape_of(self.input), shape_of(self.output))]


@irdl_op_definition
class FlattenOp(NNOperation):
    """ONNX Flatten: the axes before `axis` and from `axis` on become two dimensions."""

    name = "nn.flatten"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    axis = prop_def(IntProp)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    ANY_ELEMENT_TYPE: ClassVar = True
    assembly_format = "$input `axis` $axis attr-dict `:` functional-type(operands, results)"

    def __init__(self, input, axis: int = 1):
        x = _value(input)
        out = _infer(self.name, shapes.flatten, shape_of(x), axis)
        super().__init__(operands=[x], result_types=[tensor(out, element_type(x))],
                         properties={"axis": IntegerAttr(axis, i64)})

    def result_shapes(self) -> list[Shape]:
        return [shapes.flatten(shape_of(self.input), self.axis.value.data)]


@irdl_op_definition
class TransposeOp(NNOperation):
    """Permutes the axes: result dim i is input dim perm[i]."""

    name = "nn.transpose"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    perm = prop_def(DenseArrayBase.constr(i64))
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    ANY_ELEMENT_TYPE: ClassVar = True
    assembly_format = "$input `perm` $perm attr-dict `:` functional-type(operands, results)"

    def __init__(self, input, perm: Sequence[int]):
        x = _value(input)
        out = _infer(self.name, shapes.transpose, shape_of(x), perm)
        super().__init__(operands=[x], result_types=[tensor(out, element_type(x))],
                         properties={"perm": i64_array(perm)})

    def result_shapes(self) -> list[Shape]:
        return [shapes.transpose(shape_of(self.input), ints(self.perm))]


@irdl_op_definition
class PadOp(NNOperation):
    """Pads every axis (ONNX Pad): pads are all begins then all ends."""

    name = "nn.pad"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    pads = prop_def(DenseArrayBase.constr(i64))
    """[b0, b1, ..., e0, e1, ...]"""
    mode = prop_def(PadModeAttr)
    value = prop_def(FloatProp)
    """fill value in constant mode"""
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("input",)
    assembly_format = (
        "$input `pads` $pads `mode` $mode `value` $value attr-dict `:` functional-type(operands, results)"
    )

    def __init__(self, input, pads: Sequence[int], mode: str = "constant", value: float = 0.0):
        x = _value(input)
        out = _infer(self.name, shapes.pad, shape_of(x), pads, mode)
        super().__init__(operands=[x], result_types=[tensor(out, element_type(x))],
                         properties={"pads": i64_array(pads), "mode": PadModeAttr(PadMode(mode)),
                                     "value": FloatAttr(value, f32)})

    def result_shapes(self) -> list[Shape]:
        return [shapes.pad(shape_of(self.input), ints(self.pads), self.mode.data.value)]


@irdl_op_definition
class GatherOp(NNOperation):
    """Gathers slices of `data` along `axis` at integer `indices` (ONNX Gather; embeddings)."""

    name = "nn.gather"
    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    """integer tensor; negative indices count from the end"""
    output = result_def(TensorType)
    axis = prop_def(IntProp)
    traits = traits_def(Pure())
    FLOAT_OPERANDS: ClassVar = ("data",)
    ANY_ELEMENT_TYPE: ClassVar = True
    assembly_format = "$data `,` $indices `axis` $axis attr-dict `:` functional-type(operands, results)"

    def __init__(self, data, indices, axis: int = 0):
        d, i = _value(data), _value(indices)
        out = _infer(self.name, shapes.gather, shape_of(d), shape_of(i), axis)
        super().__init__(operands=[d, i], result_types=[tensor(out, element_type(d))],
                         properties={"axis": IntegerAttr(axis, i64)})

    def result_shapes(self) -> list[Shape]:
        t = element_type(self.indices)
        if not _is_index_type(t):
            raise ShapeError(f"indices must have element type i32 or i64 but has {t}")
        return [shapes.gather(shape_of(self.data), shape_of(self.indices), self.axis.value.data)]


# ---------------------------------------------------------------------------
# Recurrent layers
# ---------------------------------------------------------------------------


class RecurrentOperation(NNOperation):
    """Shared verification of `nn.lstm` and `nn.gru` (ONNX layout 0, full sequence)."""

    GATES: ClassVar[int]
    STATES: ClassVar[tuple[str, ...]]

    def result_shapes(self) -> list[Shape]:
        initial = [shape_of(getattr(self, s)) for s in self.STATES]
        y, state = shapes.recurrent(
            shape_of(self.input), shape_of(self.weight), shape_of(self.recurrence),
            shape_of(self.bias), initial, self.hidden_size.value.data,
            self.direction.data.value, self.GATES)
        return [y] + [state] * len(self.STATES)


@irdl_op_definition
class LstmOp(RecurrentOperation):
    """ONNX LSTM over a whole sequence: gate order i, o, f, c; returns Y, Y_h and Y_c."""

    name = "nn.lstm"
    input = operand_def(TensorType)
    """X: seq x batch x input"""
    weight = operand_def(TensorType)
    """W: dirs x 4H x input"""
    recurrence = operand_def(TensorType)
    """R: dirs x 4H x H"""
    bias = opt_operand_def(TensorType)
    """B: dirs x 8H (Wb then Rb)"""
    initial_h = opt_operand_def(TensorType)
    """dirs x batch x H"""
    initial_c = opt_operand_def(TensorType)
    """dirs x batch x H"""
    y = result_def(TensorType)
    y_h = result_def(TensorType)
    y_c = result_def(TensorType)
    hidden_size = prop_def(IntProp)
    direction = prop_def(RnnDirectionAttr)
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure())
    GATES: ClassVar = 4
    STATES: ClassVar = ("initial_h", "initial_c")
    FLOAT_OPERANDS: ClassVar = ("input", "weight", "recurrence", "bias", "initial_h", "initial_c")
    assembly_format = (
        "`(` $input `:` type($input) `,` $weight `:` type($weight) `,` $recurrence `:` type($recurrence) "
        "(`bias` $bias^ `:` type($bias))? (`initial_h` $initial_h^ `:` type($initial_h))? "
        "(`initial_c` $initial_c^ `:` type($initial_c))? `)` `hidden_size` $hidden_size "
        "`direction` $direction attr-dict `->` `(` type($y) `,` type($y_h) `,` type($y_c) `)`"
    )

    def __init__(self, input, weight, recurrence, bias=None, initial_h=None, initial_c=None, *,
                 hidden_size: int, direction: str = "forward"):
        ops = [_value(input), _value(weight), _value(recurrence)]
        opts = [_opt(bias), _opt(initial_h), _opt(initial_c)]
        y, state = _infer(self.name, shapes.recurrent, *[shape_of(v) for v in ops],
                          shape_of(opts[0][0]) if opts[0] else None,
                          [shape_of(o[0]) if o else None for o in opts[1:]],
                          hidden_size, direction, self.GATES)
        elem = element_type(ops[0])
        super().__init__(operands=[*ops, *opts],
                         result_types=[tensor(y, elem), tensor(state, elem), tensor(state, elem)],
                         properties={"hidden_size": IntegerAttr(hidden_size, i64),
                                     "direction": RnnDirectionAttr(RnnDirection(direction))})


@irdl_op_definition
class GruOp(RecurrentOperation):
    """ONNX GRU over a whole sequence: gate order z, r, h; returns Y and Y_h."""

    name = "nn.gru"
    input = operand_def(TensorType)
    """X: seq x batch x input"""
    weight = operand_def(TensorType)
    """W: dirs x 3H x input"""
    recurrence = operand_def(TensorType)
    """R: dirs x 3H x H"""
    bias = opt_operand_def(TensorType)
    """B: dirs x 6H (Wb then Rb)"""
    initial_h = opt_operand_def(TensorType)
    """dirs x batch x H"""
    y = result_def(TensorType)
    y_h = result_def(TensorType)
    hidden_size = prop_def(IntProp)
    direction = prop_def(RnnDirectionAttr)
    linear_before_reset = opt_prop_def(UnitAttr)
    """apply the reset gate after the recurrence matmul"""
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure())
    GATES: ClassVar = 3
    STATES: ClassVar = ("initial_h",)
    FLOAT_OPERANDS: ClassVar = ("input", "weight", "recurrence", "bias", "initial_h")
    assembly_format = (
        "`(` $input `:` type($input) `,` $weight `:` type($weight) `,` $recurrence `:` type($recurrence) "
        "(`bias` $bias^ `:` type($bias))? (`initial_h` $initial_h^ `:` type($initial_h))? `)` "
        "`hidden_size` $hidden_size `direction` $direction (`linear_before_reset` $linear_before_reset^)? "
        "attr-dict `->` `(` type($y) `,` type($y_h) `)`"
    )

    def __init__(self, input, weight, recurrence, bias=None, initial_h=None, *,
                 hidden_size: int, direction: str = "forward", linear_before_reset: bool = False):
        ops = [_value(input), _value(weight), _value(recurrence)]
        opts = [_opt(bias), _opt(initial_h)]
        y, state = _infer(self.name, shapes.recurrent, *[shape_of(v) for v in ops],
                          shape_of(opts[0][0]) if opts[0] else None,
                          [shape_of(opts[1][0]) if opts[1] else None],
                          hidden_size, direction, self.GATES)
        elem = element_type(ops[0])
        props: dict[str, Attribute] = {"hidden_size": IntegerAttr(hidden_size, i64),
                                       "direction": RnnDirectionAttr(RnnDirection(direction))}
        if linear_before_reset:
            props["linear_before_reset"] = UnitAttr()
        super().__init__(operands=[*ops, *opts], result_types=[tensor(y, elem), tensor(state, elem)],
                         properties=props)


NN = Dialect(
    "nn",
    [
        ConstantOp, WeightOp,
        Conv2DOp, MatmulOp, GemmOp,
        AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp,
        ReluOp, SigmoidOp, TanhOp, ErfOp, ExpOp, SqrtOp, PowOp, GeluOp, ClipOp, SoftmaxOp,
        MaxPool2DOp, AvgPool2DOp, GlobalAvgPoolOp,
        BatchNormOp, LayerNormOp, LrnOp, ReduceOp,
        ConcatOp, SplitOp, ReshapeOp, FlattenOp, TransposeOp, PadOp, GatherOp,
        LstmOp, GruOp,
    ],
    [GeluApproximationAttr, PadModeAttr, ReduceKindAttr, RnnDirectionAttr],
)
