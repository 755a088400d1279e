"""`GraphBuilder`: writing `nn` networks from Python.

    g = GraphBuilder()
    x = g.input("image", [1, 3, 32, 32])
    w = g.constant("conv1.w", weights)          # nn.weight, or nn.constant when tiny
    y = g.add(nn.Conv2DOp(x, w, pads=(1, 1, 1, 1)), name="conv1")
    g.output("logits", y)
    module, store = g.finish("small_cnn.npz")

Ops infer their own result types, so the builder never computes a shape. Arrays
larger than `inline_limit` elements go to the weight store (and so to the `.npz`
side file); smaller ones are printed inline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType, f16, f32, i64
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.weights import WEIGHTS_ATTR, WeightStore


def ssa_name(name: str) -> str:
    """A readable SSA name hint from any tensor name (`conv1.weight` -> `conv1_weight`)."""
    hint = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return hint if hint and not hint[0].isdigit() else f"v{hint}"


class GraphBuilder:
    """Builds one entry function (`@name`) of an `nn` module and its weight store."""

    def __init__(self, name: str = "main", inline_limit: int = 16):
        self.name = name
        self.inline_limit = inline_limit
        self.block = Block()
        self.builder = Builder(InsertPoint.at_end(self.block))
        self.weights = WeightStore()
        self._input_names: list[str] = []
        self._outputs: list[tuple[str, SSAValue]] = []

    def input(self, name: str, shape: Sequence[int], element_type: Attribute = f32) -> SSAValue:
        """Adds a model input (a function argument) called `name`."""
        arg = self.block.insert_arg(TensorType(element_type, list(shape)), len(self.block.args))
        arg.name_hint = ssa_name(name)
        self._input_names.append(name)
        return arg

    def constant(self, name: str, array: np.ndarray) -> SSAValue:
        """A weight: `nn.weight name` backed by the store, or inline `nn.constant` if small."""
        array = np.asarray(array)
        if array.dtype.kind == "f" and array.dtype != np.float16:
            array = array.astype(np.float32)
        elif array.dtype.kind != "f":
            array = array.astype(np.int64)
        if array.size <= self.inline_limit:
            return self.add(nn.ConstantOp.from_numpy(array), name=name)
        self.weights.add(name, array)
        elem = {np.dtype(np.float16): f16, np.dtype(np.float32): f32}.get(array.dtype, i64)
        return self.add(nn.WeightOp(name, TensorType(elem, list(array.shape))), name=name)

    def add(self, op: Operation, name: str | None = None) -> SSAValue:
        """Appends an op; returns its only result (use `add_multi` for several)."""
        results = self.add_multi(op, name)
        if len(results) != 1:
            raise ValueError(f"{op.name} has {len(results)} results: use add_multi")
        return results[0]

    def add_multi(self, op: Operation, name: str | None = None) -> list[SSAValue]:
        """Appends an op and returns all its results; `name` becomes the op's layer name
        (`nn.name`, kept down to the instructions) and its results' SSA names."""
        self.builder.insert(op)
        if name is not None:
            if op.name.startswith("nn.") and not isinstance(op, nn.ConstantOp | nn.WeightOp):
                op.attributes[NAME_ATTR] = StringAttr(name)
            for r in op.results:
                r.name_hint = ssa_name(name)
        return list(op.results)

    def output(self, name: str, value: SSAValue) -> None:
        """Marks `value` as the model output called `name`."""
        self._outputs.append((name, value))

    def finish(self, weights_file: str | None = None) -> tuple[ModuleOp, WeightStore]:
        """The module (naming `weights_file` when any weight is external) and its weights."""
        if not self._outputs:
            raise ValueError("the graph has no outputs")
        self.builder.insert(func.ReturnOp(*[v for _, v in self._outputs]))
        inputs = [a.type for a in self.block.args]
        outputs = [v.type for _, v in self._outputs]
        fn = func.FuncOp(self.name, (inputs, outputs), Region(self.block))
        fn.arg_attrs = _names(self._input_names)
        fn.res_attrs = _names([n for n, _ in self._outputs])
        module = ModuleOp([fn])
        if len(self.weights):
            if weights_file is None:
                raise ValueError("the graph has external weights: give finish() a weights_file")
            module.attributes[WEIGHTS_ATTR] = StringAttr(weights_file)
        return module, self.weights


def _names(names: Sequence[str]) -> ArrayAttr:
    return ArrayAttr([DictionaryAttr({NAME_ATTR: StringAttr(n)}) for n in names])
