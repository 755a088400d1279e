"""`fold-reshapes`: shortens chains of reshapes and transposes.

    rapid-opt net.mlir -p fold-reshapes

Exporters write shape changes one at a time (Flatten, Squeeze/Unsqueeze and Reshape all
import as `nn.reshape`/`nn.flatten`; attention blocks transpose back and forth). A
reshape is a free view on the device but a transpose is a copy, so every one removed
saves a pass over the tensor. Rewrites, applied until none matches:

- `reshape(reshape(x))`, `reshape(flatten(x))`, `flatten(reshape(x))` and
  `flatten(flatten(x))` -> one `reshape(x)`; a flatten of its own is left alone;
- a reshape or flatten to the input's own shape -> `x`;
- `transpose(transpose(x, p), q)` -> `transpose(x, p∘q)` (result axis i is input axis
  p[q[i]]), and a transpose by the identity permutation -> `x`;
- a transpose that moves only axes of size 1 (the others keep their order) -> a reshape.

The op that remains takes the outer op's name; the inner ops are removed once nothing
uses them. Ops marked `nn.host` are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from rapid_mlir.dialects import nn
from rapid_mlir.transforms.host_lowering import HOST_ATTR

_VIEWS = (nn.ReshapeOp, nn.FlattenOp)


@dataclass(frozen=True)
class FoldReshapesPass(ModulePass):
    """Folds reshape and transpose chains."""

    name = "fold-reshapes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([FoldViewChain(), FoldTransposeChain(), UnitTransposeToReshape()]),
            apply_recursively=True,
        ).rewrite_module(op)


def compose(inner: tuple[int, ...], outer: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation of `transpose(transpose(x, inner), outer)`."""
    return tuple(inner[axis] for axis in outer)


def moves_only_unit_axes(shape: tuple[int, ...], perm: tuple[int, ...]) -> bool:
    """Whether transposing `shape` by `perm` keeps the order of its axes longer than 1."""
    kept = [axis for axis in perm if shape[axis] != 1]
    return kept == sorted(kept)


def _on_device(*ops: Operation) -> bool:
    return all(HOST_ATTR not in op.attributes for op in ops)


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _replace_by(rewriter: PatternRewriter, op: Operation, value: SSAValue) -> None:
    """Replaces `op`'s result by `value`, and erases `op` and an inner op left unused."""
    inner = op.operands[0].owner
    rewriter.replace(op, [], [value])
    if isinstance(inner, Operation) and inner.name.startswith("nn.") and all(not r.uses for r in inner.results):
        rewriter.erase(inner)


def _reshape_to(rewriter: PatternRewriter, op: Operation, source: SSAValue) -> None:
    """Replaces `op` by a reshape of `source` to `op`'s result shape, with `op`'s name."""
    if _shape(source) == _shape(op.results[0]):
        _replace_by(rewriter, op, source)
        return
    new = nn.ReshapeOp(source, _shape(op.results[0]))
    new.attributes.update(op.attributes)
    new.output.name_hint = op.results[0].name_hint
    rewriter.insert(new)
    _replace_by(rewriter, op, new.output)


class FoldViewChain(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReshapeOp | nn.FlattenOp, rewriter: PatternRewriter) -> None:
        if not _on_device(op):
            return
        inner = op.input.owner
        if isinstance(inner, _VIEWS) and _on_device(inner):
            _reshape_to(rewriter, op, inner.input)
        elif _shape(op.input) == _shape(op.output):
            _replace_by(rewriter, op, op.input)


class FoldTransposeChain(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.TransposeOp, rewriter: PatternRewriter) -> None:
        if not _on_device(op):
            return
        perm = nn.ints(op.perm)
        inner = op.input.owner
        if isinstance(inner, nn.TransposeOp) and _on_device(inner):
            perm = compose(nn.ints(inner.perm), perm)
            source = inner.input
        else:
            source = op.input
        if perm == tuple(range(len(perm))):
            _replace_by(rewriter, op, source)
        elif source is not op.input:
            new = nn.TransposeOp(source, perm)
            new.attributes.update(op.attributes)
            new.output.name_hint = op.output.name_hint
            rewriter.insert(new)
            _replace_by(rewriter, op, new.output)


class UnitTransposeToReshape(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.TransposeOp, rewriter: PatternRewriter) -> None:
        perm = nn.ints(op.perm)
        if _on_device(op) and moves_only_unit_axes(_shape(op.input), perm):
            _reshape_to(rewriter, op, op.input)
