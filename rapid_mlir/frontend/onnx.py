"""ONNX import: an ONNX model (opsets 13 to 21) as an `nn` module and its weights.

    module, weights = import_onnx("resnet50.onnx", input_shapes={"data": (1, 3, 224, 224)})

The graph becomes one entry function `@main` whose arguments and results carry the
ONNX input and output names (`nn.name`), so tensors keep their names down to the
binary. Initializers become weights: `nn.weight` ops backed by the returned
`WeightStore` (saved by the caller under `weights_file`, the name the module records),
or inline `nn.constant` ops when tiny; an initializer that no emitted op uses costs
nothing.

Constant folding: every node whose inputs are all known at import time (initializers,
`Constant` nodes, the `Shape` of a tensor, whose shape is static, and whatever is
computed from those) is evaluated here, by onnx's reference evaluator, and emits no
op. The shape arithmetic exporters write (`Shape -> Gather -> Unsqueeze -> Concat ->
Reshape`) so leaves only the reshape it computes. Every other node goes to its handler
in `rapid_mlir.frontend.onnx_ops.HANDLERS`, one per op type, through a `Node`.

Shapes are static: a symbolic or unknown input dimension must be pinned with
`input_shapes` (`--input-shape name=1x3x224x224` in the tools); ops infer every other
shape. Errors are `OnnxImportError`s (an `InputError`, so the tools print them on one
line) naming the node, its op type and the opset. The supported operators and their
restrictions are listed in docs/onnx.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType, f16, f32, i32, i64
from xdsl.ir import SSAValue
from xdsl.utils.exceptions import DiagnosticException, VerifyException

from rapid_mlir.dialects.nn_shapes import ShapeError
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.tools.errors import InputError, describe
from rapid_mlir.weights import WeightError, WeightStore

MIN_OPSET = 13
MAX_OPSET = 21

# onnx.TensorProto.DataType values (spelled out so this module loads without onnx).
ELEMENT_TYPES = {1: f32, 10: f16, 7: i64, 6: i32}
"""Element types a model input may have: FLOAT, FLOAT16, INT64, INT32."""
_TYPE_NAMES = {1: "FLOAT", 10: "FLOAT16", 7: "INT64", 6: "INT32"}

DEFAULT_DOMAINS = ("", "ai.onnx")


# onnx.AttributeProto.AttributeType values: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6,
# INTS 7, STRINGS 8.
_ATTRIBUTE_TYPE_NAMES = {1: "a float", 2: "an int", 3: "a string", 4: "a tensor", 6: "a list of floats",
                         7: "a list of ints", 8: "a list of strings"}
_ATTRIBUTE_TYPES = {int: ("an int", (2,)), float: ("a float", (1, 2)), str: ("a string", (3,)),
                    list: ("a list", (6, 7, 8)), tuple: ("a list", (6, 7, 8))}
"""The attribute types a default of each Python type admits (a float attribute may be
written as an int)."""


class OnnxImportError(InputError):
    """An ONNX model, or an input shape given for it, that cannot become an `nn` module."""


Value = SSAValue | np.ndarray
"""What an ONNX tensor name stands for during import: an IR value, or a constant."""


def import_onnx(model, input_shapes: Mapping[str, Sequence[int]] | None = None,
                weights_file: str | None = None) -> tuple[ModuleOp, WeightStore]:
    """The `nn` module computing an ONNX model, and the weights its `nn.weight` ops name.

    `model` is a path or an `onnx.ModelProto`; `input_shapes` pins input shapes (needed
    for symbolic dimensions); `weights_file` is the weight file name the module records
    (default: the model's name with `.npz`, or `model.npz`). Raises OnnxImportError.
    """
    proto, path = _load(model)
    if weights_file is None:
        weights_file = Path(path).with_suffix(".npz").name if path is not None else "model.npz"
    _check_names(proto.graph)
    proto = _inline_functions(proto)
    importer = _Importer(proto.graph, model_opset(proto))
    importer.run(dict(input_shapes or {}))
    module, store = importer.g.finish(weights_file)
    try:
        module.verify()
    except DiagnosticException as e:  # a handler bug rather than a bad model, but say where
        raise OnnxImportError(f"the imported module does not verify: {describe(e)}") from None
    return module, store


def is_onnx_file(path: str | os.PathLike) -> bool:
    """Whether the tools should read `path` as an ONNX model (by its extension)."""
    return str(path).lower().endswith(".onnx")


def parse_input_shapes(specs: Sequence[str] | None) -> dict[str, tuple[int, ...]]:
    """The `--input-shape NAME=D1xD2x...` options of the tools as a name -> shape map."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs or ():
        name, sep, dims = spec.rpartition("=")
        if not sep or not name or not re.fullmatch(r"[1-9][0-9]*(x[1-9][0-9]*)*", dims.strip()):
            raise InputError(f"--input-shape '{spec}': expected NAME=D1xD2x... with positive integer "
                             "dimensions, e.g. data=1x3x224x224")
        if name in shapes:
            raise InputError(f"--input-shape gives input '{name}' twice")
        shapes[name] = tuple(int(d) for d in dims.strip().split("x"))
    return shapes


def model_opset(proto) -> int:
    """The model's version of the default ONNX domain, checked to be one we import."""
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions:
        raise OnnxImportError("the model imports no version of the default ONNX domain (opset_import)")
    opset = versions[0]
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxImportError(
            f"the model uses ONNX opset {opset} but the importer supports opsets {MIN_OPSET} to "
            f"{MAX_OPSET}; convert it first, e.g. with onnx.version_converter.convert_version(model, 17)")
    return opset


def _onnx():
    """The onnx package, imported on first use so that the tools start fast without it."""
    try:
        import onnx
    except ImportError:
        raise InputError("reading ONNX models needs the onnx package: pip install onnx") from None
    return onnx


def _load(model):
    """The ModelProto and the file it came from (None when given a ModelProto)."""
    onnx = _onnx()
    if isinstance(model, onnx.ModelProto):
        return model, None
    path = Path(model)
    if not path.is_file():
        raise OnnxImportError(f"{path}: no such file")
    try:
        # External data (tensors stored beside the model) is read from the model's directory.
        return onnx.load(str(path)), path
    # protobuf's DecodeError and onnx's external-data errors share no useful base class.
    except Exception as e:  # noqa: BLE001
        raise OnnxImportError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None


def _check_names(graph) -> None:
    """Every tensor and node name must be text: protobuf hands a name that is not valid
    UTF-8 back as bytes, which no later step expects."""
    def bad(name) -> bool:
        return not isinstance(name, str)

    for what, values in (("input", graph.input), ("output", graph.output), ("initializer", graph.initializer)):
        for i, v in enumerate(values):
            if bad(v.name):
                raise OnnxImportError(f"graph {what} #{i}: its name {v.name!r} is not valid UTF-8 text")
    for i, node in enumerate(graph.node):
        for name in [node.name, node.op_type, node.domain, *node.input, *node.output]:
            if bad(name):
                raise OnnxImportError(f"node #{i}: the name {name!r} is not valid UTF-8 text")
        for a in node.attribute:
            if bad(a.name):
                raise OnnxImportError(f"node #{i}: attribute name {a.name!r} is not valid UTF-8 text")


def _inline_functions(proto):
    """The model with its local functions (as the dynamo exporter writes) inlined."""
    if not proto.functions:
        return proto
    from onnx import inliner

    return inliner.inline_local_functions(proto)


class _Importer:
    """Walks one ONNX graph in order, binding each tensor name to a Value."""

    def __init__(self, graph, opset: int):
        self.graph = graph
        self.opset = opset
        self.g = GraphBuilder("main")
        self.env: dict[str, Value] = {}
        self._materialized: dict[str, SSAValue] = {}
        self._layers: set[str] = set()
        self._weights: set[str] = set()
        # An output nobody reads may stay unsupported (MaxPool's Indices, Dropout's mask).
        self.consumed = {name for node in graph.node for name in node.input}
        self.consumed |= {out.name for out in graph.output}

    def run(self, input_shapes: dict[str, Sequence[int]]) -> None:
        if len(self.graph.sparse_initializer):
            raise OnnxImportError("sparse initializers are not supported")
        onh = _onnx().numpy_helper
        for init in self.graph.initializer:
            try:
                self.env[init.name] = onh.to_array(init)
            except Exception as e:  # noqa: BLE001 - e.g. external data that was not loaded
                raise OnnxImportError(f"initializer '{init.name}' cannot be read ({type(e).__name__}: {e})"
                                      ) from None
        self._add_inputs(input_shapes)
        for index, node in enumerate(self.graph.node):
            _import_node(self, node, index)
        for out in self.graph.output:
            if out.name not in self.env:
                raise OnnxImportError(f"graph output '{out.name}' is computed by no node")
            self.g.output(out.name, self.materialize(out.name))

    def _add_inputs(self, input_shapes: dict[str, Sequence[int]]) -> None:
        # An input that is also an initializer is a weight with an overridable default (old
        # exporters list every weight as an input): it stays a weight.
        inputs = [info for info in self.graph.input if info.name not in self.env]
        names = [info.name for info in inputs]
        unknown = sorted(set(input_shapes) - set(names))
        if unknown:
            raise OnnxImportError(f"an input shape is given for '{unknown[0]}' but the model's inputs are: "
                                  f"{', '.join(names) or 'none'}")
        for info in inputs:
            elem, shape = _input_type(info, input_shapes.get(info.name))
            self.env[info.name] = self.g.input(info.name, shape, elem)

    def materialize(self, name: str) -> SSAValue:
        """The IR value of a tensor, emitting a constant or weight the first time one is used."""
        value = self.env[name]
        if isinstance(value, SSAValue):
            return value
        if name not in self._materialized:
            self._materialized[name] = self.g.constant(unique(name, self._weights), value)
        return self._materialized[name]

    def layer_name(self, base: str) -> str:
        """A layer name (`nn.name`) no other op has: mappings and profiles refer to layers by name."""
        return unique(base, self._layers)


class Node:
    """One ONNX node as its handler (`onnx_ops`) sees it: attributes (each read is
    recorded, see `unread_attributes`), inputs as IR values (`value`, constants
    materialized on use) or as import-time constants (`const`), static shapes, and
    `emit` for `nn` ops named after the node. `fail` builds the error naming the node."""

    def __init__(self, importer: _Importer, proto, index: int):
        self.imp = importer
        self.proto = proto
        self.op_type = proto.op_type
        self.inputs = list(proto.input)
        self._attrs = {a.name: a for a in proto.attribute}
        self._read: set[str] = set()
        first = next((o for o in proto.output if o), "")
        self.label = f"'{proto.name}'" if proto.name else f"#{index} (output '{first}')"
        self.layer = proto.name or first or f"{proto.op_type}_{index}"

    def fail(self, what: str) -> OnnxImportError:
        """The error to raise: it names the node, its op type and the opset."""
        return OnnxImportError(f"node {self.label} ({self.op_type}, opset {self.imp.opset}): {what}")

    # -- attributes ---------------------------------------------------------------------

    def attr(self, name: str, default=None):
        """An attribute's value (strings decoded), or `default` when absent."""
        from onnx.helper import get_attribute_value

        self._read.add(name)
        if name not in self._attrs:
            return default
        proto = self._attrs[name]
        expected = _ATTRIBUTE_TYPES.get(type(default))
        if expected is not None and proto.type not in expected[1]:
            raise self.fail(f"attribute '{name}' must be {expected[0]}, but the model gives "
                            f"{_ATTRIBUTE_TYPE_NAMES.get(proto.type, f'type {proto.type}')}")
        value = get_attribute_value(proto)
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return [v.decode() for v in value]
        return value

    def required(self, name: str):
        value = self.attr(name)
        if value is None:
            raise self.fail(f"attribute '{name}' is required")
        return value

    def ignore(self, *names: str) -> None:
        """Marks attributes that do not change an inference result as handled."""
        self._read.update(names)

    def unread_attributes(self) -> list[str]:
        return [name for name in self._attrs if name not in self._read]

    # -- inputs -------------------------------------------------------------------------

    def has(self, i: int) -> bool:
        """Whether optional input `i` is given."""
        return i < len(self.inputs) and self.inputs[i] != ""

    def value(self, i: int) -> SSAValue:
        """Input `i` as an IR value (a constant becomes an `nn.constant` / `nn.weight`)."""
        if not self.has(i):
            raise self.fail(f"input {i} is required")
        return self.imp.materialize(self.inputs[i])

    def optional(self, i: int) -> SSAValue | None:
        return self.value(i) if self.has(i) else None

    def const(self, i: int, what: str) -> np.ndarray:
        """Input `i`, which must be known at import time (an attribute in all but name)."""
        if not self.has(i):
            raise self.fail(f"{what} (input {i}) is required")
        value = self.imp.env[self.inputs[i]]
        if not isinstance(value, np.ndarray):
            raise self.fail(f"{what} (input {i}, '{self.inputs[i]}') must be a constant, but it is computed "
                            "at run time")
        return value

    def scalar(self, i: int, what: str) -> float:
        arr = self.const(i, what)
        if arr.size != 1:
            raise self.fail(f"{what} must be a single value but has shape {list(arr.shape)}")
        return float(arr.reshape(()))

    def ints(self, i: int, what: str) -> list[int]:
        return [int(v) for v in self.const(i, what).reshape(-1)]

    def shape(self, i: int) -> tuple[int, ...]:
        """The static shape of input `i` (IR value or constant)."""
        if not self.has(i):
            raise self.fail(f"input {i} is required")
        value = self.imp.env[self.inputs[i]]
        if isinstance(value, np.ndarray):
            return tuple(value.shape)
        assert isinstance(value.type, TensorType)
        return tuple(value.type.get_shape())

    # -- emitting -----------------------------------------------------------------------

    def emit(self, op, suffix: str | None = None) -> SSAValue:
        """Appends an `nn` op named after the node (`layer.suffix` for helper ops)."""
        return self.emit_multi(op, suffix)[0]

    def emit_multi(self, op, suffix: str | None = None) -> list[SSAValue]:
        base = self.layer if suffix is None else f"{self.layer}.{suffix}"
        return self.imp.g.add_multi(op, self.imp.layer_name(base))


def _import_node(importer: _Importer, proto, index: int) -> None:
    """Folds or translates one node and binds its outputs in `importer.env`."""
    node = Node(importer, proto, index)
    if proto.domain not in DEFAULT_DOMAINS:
        raise node.fail(f"operators of domain '{proto.domain}' are not supported (only the default ONNX "
                        "domain)")
    for name in proto.input:
        if name and name not in importer.env:
            raise node.fail(f"input '{name}' is defined by no earlier node, initializer or graph input "
                            "(ONNX graphs must be topologically sorted)")
    if all(isinstance(importer.env[name], np.ndarray) for name in proto.input if name):
        results = _fold(node)
    else:
        results = _translate(node)
    for i, name in enumerate(proto.output):
        if not name:
            continue
        if i < len(results) and results[i] is not None:
            importer.env[name] = results[i]
        elif name in importer.consumed:
            raise node.fail(f"output {i} ('{name}') is not supported")


def _fold(node: Node) -> list[Value]:
    """Evaluates a node whose inputs are all constants (and a Constant node) at import time."""
    from onnx.reference import ReferenceEvaluator

    feeds = {name: node.imp.env[name] for name in node.inputs if name}
    try:
        outputs = ReferenceEvaluator(node.proto, opsets={"": node.imp.opset}).run(None, feeds)
    # The evaluator raises whatever its NumPy implementation of the op raises.
    except Exception as e:  # noqa: BLE001
        raise node.fail(f"constant folding failed ({type(e).__name__}: {e})") from None
    return [np.asarray(o) for o in outputs]


def _translate(node: Node) -> list[Value]:
    from rapid_mlir.frontend.onnx_ops import HANDLERS

    handler = HANDLERS.get(node.op_type)
    if handler is None:
        raise node.fail(f"operator {node.op_type} is not supported (docs/onnx.md lists the supported "
                        "operators)")
    try:
        results = handler(node)
    except (VerifyException, ShapeError, WeightError) as e:  # an nn op rejected what the node asks
        raise node.fail(str(e).removeprefix("Operation does not verify: ")) from None
    except OnnxImportError:
        raise
    # A malformed node (a tensor of the wrong rank where a handler indexes its shape, an
    # attribute value out of every range) can fail inside a handler before any check
    # names it: report it against the node rather than as an internal error (found by
    # mutation fuzzing of .onnx files, docs/fuzzing.md).
    except (IndexError, TypeError, KeyError, ValueError, OverflowError, ZeroDivisionError) as e:
        raise node.fail(f"malformed node, or a form the importer does not handle ({type(e).__name__}: {e})") \
            from None
    unread = node.unread_attributes()
    if unread:
        raise node.fail(f"attribute '{unread[0]}' is not supported")
    return results


def unique(base: str, taken: set[str]) -> str:
    """`base`, or `base_1`, `base_2`, ... whichever is not yet in `taken` (which it joins)."""
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def _input_type(info, pinned: Sequence[int] | None):
    """The element type and static shape of a graph input (pinned, or from the model)."""
    name = info.name
    if not info.type.HasField("tensor_type"):
        raise OnnxImportError(f"input '{name}' is a {info.type.WhichOneof('value') or 'untyped value'}, "
                              "not a tensor")
    tt = info.type.tensor_type
    elem = ELEMENT_TYPES.get(tt.elem_type)
    if elem is None:
        raise OnnxImportError(f"input '{name}' has element type {_type_name(tt.elem_type)}; inputs may be "
                              f"{', '.join(_TYPE_NAMES.values())}")
    dims: list[int | str] | None = None
    if tt.HasField("shape"):
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
    if pinned is not None:
        return elem, _check_pinned(name, dims, list(pinned))
    if dims is None:
        raise OnnxImportError(f"input '{name}' has no shape in the model: give it a static shape with "
                              f"--input-shape {name}=D1xD2x... (input_shapes in Python)")
    symbolic = [d for d in dims if isinstance(d, str)]
    if symbolic:
        example = "x".join("1" if isinstance(d, str) else str(d) for d in dims)
        raise OnnxImportError(f"input '{name}' has the symbolic dimension '{symbolic[0]}' (shape "
                              f"{_fmt(dims)}): give it a static shape with --input-shape {name}={example} "
                              "(input_shapes in Python)")
    if any(d < 1 for d in dims):
        raise OnnxImportError(f"input '{name}' has shape {_fmt(dims)}: empty tensors are not supported")
    return elem, dims


def _check_pinned(name: str, dims: list[int | str] | None, pinned: list[int]) -> list[int]:
    """A pinned shape must agree with the model's rank and with its fixed dimensions."""
    if any(d < 1 for d in pinned):
        raise OnnxImportError(f"the shape given for input '{name}' ({_fmt(pinned)}) has a dimension < 1")
    if dims is None:
        return pinned
    if len(dims) != len(pinned):
        raise OnnxImportError(f"input '{name}' has rank {len(dims)} (shape {_fmt(dims)}) but the shape "
                              f"given for it, {_fmt(pinned)}, has rank {len(pinned)}")
    for i, (d, p) in enumerate(zip(dims, pinned)):
        if isinstance(d, int) and d > 0 and d != p:
            raise OnnxImportError(f"input '{name}' has dimension {i} = {d} in the model but the shape "
                                  f"given for it is {_fmt(pinned)}")
    return pinned


def _fmt(dims: Sequence[int | str]) -> str:
    return "x".join(str(d) for d in dims) if dims else "scalar"


def _type_name(elem_type: int) -> str:
    try:
        return _onnx().TensorProto.DataType.Name(elem_type)
    except ValueError:
        return str(elem_type)
