"""The named inputs and outputs of an `nn` module's entry function.

A network is a `func.func`; its tensors are named by the `nn.name` argument / result
attribute, else (inputs) by the SSA name of the argument, else `arg<i>` / `output<i>`.
Tools exchange tensors with users by these names (`.npz` files).
"""

from __future__ import annotations

import math

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType

from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.weights import numpy_dtype


class ReferenceError(ValueError):
    """The module or the inputs cannot be run (bad entry, missing or mismatched input)."""


@dataclass(frozen=True)
class Signature:
    """The named, typed inputs and outputs of an entry function."""

    function: func.FuncOp
    inputs: tuple[tuple[str, TensorType], ...]
    outputs: tuple[tuple[str, TensorType], ...]


def find_entry(module: ModuleOp, name: str | None = None) -> func.FuncOp:
    """The function to run: `name`, else the only function, else `main`."""
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp) and not op.is_declaration]
    if name is not None:
        for f in funcs:
            if f.sym_name.data == name:
                return f
        raise ReferenceError(f"no function @{name} in the module (it has: "
                             f"{', '.join('@' + f.sym_name.data for f in funcs) or 'none'})")
    if len(funcs) == 1:
        return funcs[0]
    for f in funcs:
        if f.sym_name.data == "main":
            return f
    raise ReferenceError(
        f"the module has {len(funcs)} functions and none is @main; choose one with --entry"
    )


def _name(attrs, index: int, default: str) -> str:
    if attrs is not None and index < len(attrs.data):
        attr = attrs.data[index].data.get(NAME_ATTR)
        if isinstance(attr, StringAttr):
            return attr.data
    return default


def signature(function: func.FuncOp) -> Signature:
    """Names each input (its `nn.name` arg attribute, else its SSA name, else `arg<i>`)
    and each output (its `nn.name` result attribute, else `output<i>`)."""
    inputs = []
    for i, arg in enumerate(function.body.block.args):
        default = arg.name_hint or f"arg{i}"
        inputs.append((_name(function.arg_attrs, i, default), arg.type))
    outputs = [(_name(function.res_attrs, i, f"output{i}"), t)
               for i, t in enumerate(function.function_type.outputs.data)]
    for kind, named in (("input", inputs), ("output", outputs)):
        names = [n for n, _ in named]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ReferenceError(f"@{function.sym_name.data} has two {kind}s named '{sorted(dup)[0]}'")
        for n, t in named:
            if not isinstance(t, TensorType):
                raise ReferenceError(f"@{function.sym_name.data}: {kind} '{n}' has type {t}, not a tensor")
    return Signature(function, tuple(inputs), tuple(outputs))


def check_inputs(sig: Signature, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Orders the named inputs and checks names, shapes and dtypes exactly."""
    expected = [n for n, _ in sig.inputs]
    missing = [n for n in expected if n not in inputs]
    extra = sorted(set(inputs) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise ReferenceError(f"inputs do not match @{sig.function.sym_name.data} "
                             f"(expects {', '.join(expected) or 'none'}): {'; '.join(parts)}")
    ordered = []
    for name, typ in sig.inputs:
        arr = np.asarray(inputs[name])
        shape, dtype = tuple(typ.get_shape()), numpy_dtype(typ.get_element_type())
        if arr.shape != shape or arr.dtype != dtype:
            found = "x".join(map(str, arr.shape)) or "scalar"
            raise ReferenceError(f"input '{name}' is {found} {arr.dtype} but @{sig.function.sym_name.data} "
                                 f"expects {typ}")
        ordered.append(arr)
    return ordered


RANDOM_INPUT_LIMIT = 1 << 28
"""`random_inputs` draws at most this many elements per input (1 GiB of float32)."""


def random_inputs(sig: Signature, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs for a signature: floats uniform in [-1, 1), integers in [0, 4)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, typ in sig.inputs:
        dtype = numpy_dtype(typ.get_element_type())
        shape = tuple(typ.get_shape())
        elements = math.prod(shape)
        if elements > RANDOM_INPUT_LIMIT:
            raise ReferenceError(f"input '{name}' ({typ}) has {elements} elements: more than the "
                                 f"{RANDOM_INPUT_LIMIT} random inputs are drawn for")
        if dtype.kind == "f":
            out[name] = rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
        else:
            out[name] = rng.integers(0, 4, size=shape).astype(dtype)
    return out
