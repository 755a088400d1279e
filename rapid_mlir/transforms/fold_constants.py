"""`fold-constants`: evaluates at compile time every `nn` op whose operands are all known.

    rapid-opt net.mlir -p 'fold-constants{weights="net.npz" weights-out="net.folded.npz"}'

A value is known when it is an `nn.constant`, an `nn.weight` whose array the pass can
read (the `weights` option), or the result of an `nn` op whose operands are all known
(except recurrent layers and ops marked `nn.host`). Known values that a not-known op or
the function's return uses are replaced by one new constant each; the ops that computed
them are then dead and removed, as are weights nothing uses any more. Typical sources are
the rewrites of the other graph passes (`fold-batch-norm` writes the folded weights as
`nn.mul`/`nn.div`/`nn.sqrt` of the originals, `fuse-bias-activation` adds two biases) and
exporters that write weight transposes and reshapes as graph ops.

A folded value becomes:

- an inline `nn.constant` when it has at most `max-inline` elements (default 64);
- otherwise an `nn.weight` named after the op (its `nn.name`, else `folded`), when the
  pass has `weights-out`: the file it writes whenever the module uses weights, folded
  or not, holding every weight the module still uses (the original entries it keeps and
  the folded ones), which the module's `nn.weights` attribute then names. The path is written as given, so give it relative to where the
  output `.mlir` goes, or absolute;
- otherwise it is left to the device: the ops stay as they are.

Evaluation uses the reference interpreter's NumPy kernels, so a folded value is what the
reference would compute at run time, in float32, and is stored as the result's type.
Without `weights` no `nn.weight` is known and only subgraphs of inline constants fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.transforms.host_lowering import HOST_ATTR
from rapid_mlir.weights import WEIGHTS_ATTR, WeightError, WeightStore, declared_weights, numpy_dtype

_NOT_FOLDED = (nn.LstmOp, nn.GruOp)
"""Ops never evaluated at compile time (a whole recurrence is run-time work)."""


@dataclass(frozen=True)
class FoldConstantsPass(ModulePass):
    """Replaces every compile-time-known `nn` value used at run time by a constant."""

    name = "fold-constants"

    weights: str | None = None
    """The `.npz` file holding the arrays of the module's `nn.weight` ops."""
    weights_out: str | None = None
    """Where to write the weights the folded module uses (needed for large results)."""
    max_inline: int = 64
    """Results of at most this many elements become inline `nn.constant`s."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.max_inline < 0:
            raise PassFailedException(f"fold-constants: max-inline must be >= 0 but is {self.max_inline}")
        uses_weights = bool(declared_weights(op))
        if self.weights_out is not None and self.weights is None and uses_weights:
            raise PassFailedException("fold-constants: weights-out needs the weights option (the module "
                                      "uses nn.weight ops whose arrays it must copy)")
        try:  # a module without nn.weight ops reads no file, like the other passes
            store = WeightStore.load(self.weights) if self.weights is not None and uses_weights else None
        except WeightError as e:
            raise PassFailedException(f"fold-constants: {e}") from None
        folder = _Folder(op, store, self.max_inline, self.weights_out is not None)
        for fn in op.walk():
            if isinstance(fn, func.FuncOp) and not fn.is_declaration:
                folder.fold(fn)
        if self.weights_out is not None and declared_weights(op):  # written even when unchanged:
            self._write(op, store, folder.new_entries)             # the later passes read it

    def _write(self, module: ModuleOp, store: WeightStore | None, new: dict[str, np.ndarray]) -> None:
        """Writes every weight the module still uses to `weights-out` and names that file."""
        kept = WeightStore(source=self.weights_out)
        for name, typ in dict(declared_weights(module)).items():
            kept.add(name, new[name] if name in new else store.get(name, typ))
        try:
            kept.save(self.weights_out)
        except OSError as e:
            raise PassFailedException(f"fold-constants: cannot write weights-out {self.weights_out}: "
                                      f"{e.strerror or e}") from None
        module.attributes[WEIGHTS_ATTR] = StringAttr(str(Path(self.weights_out)))


class _Folder:
    """Evaluates the known values of one module, on demand, with the reference kernels."""

    def __init__(self, module: ModuleOp, store: WeightStore | None, max_inline: int, can_store: bool):
        from rapid_mlir.reference.interpreter import NNFunctions

        self.store, self.max_inline, self.can_store = store, max_inline, can_store
        self.interp = Interpreter(module)
        self.interp.register_implementations(NNFunctions(store))
        self.taken = set(store.names()) if store is not None else set()
        self.taken |= {name for name, _ in declared_weights(module)}
        self.new_entries: dict[str, np.ndarray] = {}
        self.changed = False
        self._values: dict[SSAValue, np.ndarray] = {}

    def fold(self, fn: func.FuncOp) -> None:
        known = self._known_ops(fn)
        for op in list(fn.body.block.ops):
            if op not in known or isinstance(op, nn.ConstantOp | nn.WeightOp):
                continue
            for result in op.results:
                if any(use.operation not in known for use in result.uses):
                    self._materialise(op, result)
        self._erase_dead(fn)

    def _known_ops(self, fn: func.FuncOp) -> set[Operation]:
        """The function's ops whose results are all known at compile time."""
        known: set[Operation] = set()
        for op in fn.body.block.ops:
            if isinstance(op, nn.ConstantOp):
                known.add(op)
            elif isinstance(op, nn.WeightOp):
                if self.store is not None:
                    known.add(op)
            elif (op.name.startswith("nn.") and not isinstance(op, _NOT_FOLDED)
                  and HOST_ATTR not in op.attributes and op.operands
                  and all(o.owner in known for o in op.operands)):
                known.add(op)
        return known

    def _value(self, value: SSAValue) -> np.ndarray:
        if value not in self._values:
            op = value.owner
            args = tuple(self._value(o) for o in op.operands)
            try:
                results = self.interp.run_op(op, args)
            except (ValueError, ArithmeticError, WeightError) as e:
                raise PassFailedException(f"fold-constants: evaluating {op.name} "
                                          f"'{_op_name(op)}' failed: {e}") from None
            for r, v in zip(op.results, results, strict=True):
                self._values[r] = np.asarray(v)
        return self._values[value]

    def _materialise(self, op: Operation, result: SSAValue) -> None:
        """Replaces `result` by a constant or, when it is too large to hold inline and
        there is no weight file to write, its operands (the smaller values it is made of)."""
        array = self._value(result).astype(numpy_dtype(result.type.get_element_type()))
        if array.size <= self.max_inline:
            new = nn.ConstantOp.from_numpy(array)
        elif self.can_store:
            name = self._fresh(_op_name(op) or "folded")
            self.new_entries[name] = array
            new = nn.WeightOp(name, result.type)
        else:
            for operand in op.operands:
                if not isinstance(operand.owner, nn.ConstantOp | nn.WeightOp):
                    self._materialise(operand.owner, operand)
            return
        if new.output.type != result.type:  # e.g. an i32 result stored by from_numpy as i64
            return
        if isinstance(new, nn.ConstantOp) and nn.NAME_ATTR in op.attributes and len(op.results) == 1:
            new.attributes[nn.NAME_ATTR] = op.attributes[nn.NAME_ATTR]
        Rewriter.insert_op(new, InsertPoint.before(op))
        new.output.name_hint = result.name_hint
        result.replace_all_uses_with(new.output)
        self.changed = True

    def _fresh(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}.{n}"
        self.taken.add(name)
        return name

    def _erase_dead(self, fn: func.FuncOp) -> None:
        """Removes the `nn` ops (folded ones, weights no longer used) nothing uses."""
        for op in reversed(list(fn.body.block.ops)):
            if op.name.startswith("nn.") and all(not r.uses for r in op.results) and op.results:
                Rewriter.erase_op(op)
                self.changed = True


def _op_name(op: Operation) -> str:
    name = op.attributes.get(nn.NAME_ATTR)
    return name.data if isinstance(name, StringAttr) else ""
