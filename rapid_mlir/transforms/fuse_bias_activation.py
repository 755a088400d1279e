"""`fuse-bias-activation`: folds a constant bias add and an activation into the conv2d or
gemm they follow, so the MPE epilogue applies them as the accumulator is copied out.

    rapid-opt net.mlir -p 'fuse-bias-activation'

Exporters often write a layer's bias as a separate `Add` (PyTorch's `Linear` without the
bias fused, `MatMul + Add`, a conv followed by a `[C, 1, 1]` add), and ReLU6 (MobileNetV2)
is a `Clip` after the conv: each is a whole extra SFU pass over the tensor. This pass
rewrites, in every function (ops of one block only, none marked `nn.host`):

- `nn.add(y, c)` or `nn.add(c, y)`, where `y` is the result of an `nn.conv2d` (no
  `act_min` / `act_max` yet) whose only user is the add, and `c` is constant-like (an
  `nn.constant` or `nn.weight`, possibly through `nn.reshape`s) that broadcasts to `y`
  along the channel axis only (numpy rules: `[C, 1, 1]`, `[1, C, 1, 1]`, `[1, 1]`, a
  scalar, ...): the conv takes `c` as its bias. Likewise a gemm (per column: `c` of shape
  `[N]`, `[1, N]`, `[1]` or a scalar; when the gemm has a bias already its beta must be
  1, without one beta becomes 1) and a matmul of two 2-D tensors, which becomes an
  `nn.gemm` with alpha = beta = 1. A layer with `act_min` / `act_max` takes no bias (the
  clamp comes after the bias).
- `nn.relu(y)` and `nn.clip(y) min a max b`, where `y` is the result of a conv2d or gemm
  whose only user is the activation: the layer's clamp becomes `act_min 0.0`, or
  `act_min a act_max b` (a clamp the layer has already is intersected with it; disjoint
  ranges are left alone).

The new bias: `c` itself when it already has the bias's shape (`[C]`, `[N]`), else a
reshape of it, `L.bias_view`, and, for a scalar, `L.bias_view` added to a zero vector
`L.bias_zero`; when the layer has a bias `b` already, `nn.add(b, ...)`, `L.bias`. These
are constant subgraphs: `fold-constants` evaluates them later (this pass never reads
weight values).

Names: the surviving op is the producer (`L` above is its layer name): it keeps its
`nn.name` and its SSA name, and the add's and the activation's names disappear, exactly
as when `convert-nn-to-tile` fuses a relu into the producer's kernel (the kernel carries
the producer's layer name). So a mapping pinned to a conv or gemm keeps applying; a
matmul turned gemm keeps the matmul's name. In a function the pass changes, every
unnamed op of a kind whose count changed (add, relu, clip, matmul, gemm) gets the
`<kind>_<index>` name `convert-nn-to-tile` would have generated before the rewrite as its
`nn.name`, so the generated layer names of the remaining ops do not shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import Float16Type, FloatAttr, ModuleOp, StringAttr, f32
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.frontend.builder import ssa_name
from rapid_mlir.transforms.convert_nn_to_tile import defined_functions, layer_names
from rapid_mlir.transforms.host_lowering import HOST_ATTR

Shape = tuple[int, ...]


@dataclass(frozen=True)
class FuseBiasActivationPass(ModulePass):
    """Folds constant bias adds and relu / clip into the conv2d or gemm before them."""

    name = "fuse-bias-activation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in defined_functions(op):
            _fuse(fn)


def _fuse(fn: func.FuncOp) -> None:
    names = _Names(layer_names(fn))
    patterns = [FuseBiasAdd(names), FuseActivation(names)]
    walker = PatternRewriteWalker(GreedyRewritePatternApplier(patterns, dce_enabled=False))
    walker.rewrite_region(fn.body)
    names.pin(fn)


class _Names:
    """The layer names of a function before the rewrite, and the kinds whose count changed."""

    def __init__(self, before: dict[Operation, str]):
        self.before = before
        self.changed: set[str] = set()

    def layer(self, op: Operation) -> str:
        return self.before[op]

    def removed(self, *ops: Operation) -> None:
        """`ops` are gone (or moved: a re-created layer): their kinds' numbering changes."""
        self.changed.update(op.name for op in ops)

    def replaced(self, old: Operation, new: Operation) -> None:
        """`new` is `old` re-created (at another place, or a matmul as a gemm)."""
        self.before[new] = self.before[old]
        self.removed(old, new)

    def pin(self, fn: func.FuncOp) -> None:
        """Gives every unnamed op of a changed kind its generated name from before."""
        if not self.changed:
            return
        for op in fn.body.walk():
            if op.name in self.changed and NAME_ATTR not in op.attributes and op in self.before:
                op.attributes[NAME_ATTR] = StringAttr(self.before[op])


# ---------------------------------------------------------------------------
# Matching helpers
# ---------------------------------------------------------------------------


def _shape(v: SSAValue) -> Shape:
    return tuple(v.type.get_shape())


def _sole_user_in_block(value: SSAValue, user: Operation) -> bool:
    """`value` is an op result used once, by `user`, in the same block, neither on the host."""
    producer = value.owner
    return (isinstance(producer, Operation) and value.uses.get_length() == 1
            and producer.parent_block() is user.parent_block()
            and HOST_ATTR not in producer.attributes and HOST_ATTR not in user.attributes)


def _constant_like(value: SSAValue) -> bool:
    """An `nn.constant` or `nn.weight`, possibly through `nn.reshape`s."""
    while isinstance(value.owner, nn.ReshapeOp):
        value = value.owner.input
    return isinstance(value.owner, nn.ConstantOp | nn.WeightOp)


def _along(c: Shape, out: Shape, axis: int) -> bool:
    """`c` broadcasts to `out` varying at most along `axis` (right-aligned, numpy rules)."""
    if len(c) > len(out):
        return False
    padded = (1,) * (len(out) - len(c)) + c
    return all(d == 1 or (i == axis and d == out[i]) for i, d in enumerate(padded))


def _fusable_product(op: Operation) -> bool:
    """A conv2d, gemm or 2-D matmul that can take a bias: no clamp yet (the bias comes
    first); a gemm's bias term must be unscaled (beta = 1) if it has one."""
    if isinstance(op, nn.Conv2DOp):
        return not op.has_activation()
    if isinstance(op, nn.GemmOp):
        return not op.has_activation() and (op.bias is None or float(op.beta.value.data) == 1.0)
    return isinstance(op, nn.MatmulOp) and len(_shape(op.lhs)) == 2 and len(_shape(op.rhs)) == 2


# ---------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------


class FuseBiasAdd(RewritePattern):
    """`add(product, c)` -> the product with bias `c` (module docstring)."""

    def __init__(self, names: _Names):
        self.names = names

    @op_type_rewrite_pattern
    def match_and_rewrite(self, add: nn.AddOp, rewriter: PatternRewriter) -> None:
        for y, c in ((add.lhs, add.rhs), (add.rhs, add.lhs)):
            product = y.owner
            if not (_sole_user_in_block(y, add) and _fusable_product(product) and _constant_like(c)):
                continue
            out = _shape(y)  # axis 1: a conv's channels (NCHW), a product's columns
            if _shape(add.output) != out or not _along(_shape(c), out, 1):
                continue
            self._rewrite(add, product, c, rewriter)
            return

    def _rewrite(self, add: nn.AddOp, product: Operation, c: SSAValue, rewriter: PatternRewriter) -> None:
        layer = self.names.layer(product)
        builder = _Builder(rewriter, add, layer)
        width = _shape(product.results[0])[1]  # a conv's channels, a product's columns
        old_bias = None if isinstance(product, nn.MatmulOp) else product.bias
        bias = builder.bias(c, width, old_bias)
        if isinstance(product, nn.MatmulOp):
            new = nn.GemmOp(product.lhs, product.rhs, bias)
            new.attributes = {k: v for k, v in product.attributes.items()}
        else:
            props = dict(product.properties)
            if isinstance(product, nn.GemmOp):
                props["beta"] = FloatAttr(1.0, f32)  # without a bias beta was moot; with one it is 1
            operands = [product.operands[0], product.operands[1], [bias]]
            new = type(product).build(operands=operands, result_types=[product.results[0].type],
                                      properties=props, attributes=dict(product.attributes))
        new.results[0].name_hint = product.results[0].name_hint
        rewriter.insert(new, InsertPoint.before(add))  # c may be defined after the product
        self.names.replaced(product, new)
        self.names.removed(add)
        rewriter.replace(add, [], [new.results[0]])
        rewriter.erase(product)


class FuseActivation(RewritePattern):
    """`relu(layer)` / `clip(layer)` -> the layer with `act_min` / `act_max`."""

    def __init__(self, names: _Names):
        self.names = names

    @op_type_rewrite_pattern
    def match_and_rewrite(self, act: nn.ReluOp | nn.ClipOp, rewriter: PatternRewriter) -> None:
        layer = act.input.owner
        if not isinstance(layer, nn.Conv2DOp | nn.GemmOp) or not _sole_user_in_block(act.input, act):
            return
        lo, hi = (0.0, None) if isinstance(act, nn.ReluOp) else _clip_bounds(act)
        old_lo, old_hi = layer.act_bounds()
        lo = old_lo if lo is None else lo if old_lo is None else max(lo, old_lo)
        hi = old_hi if hi is None else hi if old_hi is None else min(hi, old_hi)
        if lo is not None and hi is not None and lo > hi:
            return  # disjoint ranges: the result is a constant, not a clamp
        for field, value in (("act_min", lo), ("act_max", hi)):
            if value is not None:
                layer.properties[field] = FloatAttr(value, f32)
        rewriter.notify_op_modified(layer)
        self.names.removed(act)
        rewriter.replace(act, [], [layer.results[0]])


def _clip_bounds(op: nn.ClipOp) -> tuple[float | None, float | None]:
    return (None if op.min is None else float(op.min.value.data),
            None if op.max is None else float(op.max.value.data))


# ---------------------------------------------------------------------------
# The new bias
# ---------------------------------------------------------------------------


class _Builder:
    """Inserts the bias ops before `at`, each named `<layer>.<part>`."""

    def __init__(self, rewriter: PatternRewriter, at: Operation, layer: str):
        self.rewriter, self.at, self.layer = rewriter, at, layer

    def one(self, op: Operation, part: str) -> SSAValue:
        name = f"{self.layer}.{part}"
        op.attributes[NAME_ATTR] = StringAttr(name)
        op.results[0].name_hint = ssa_name(name)
        self.rewriter.insert(op, InsertPoint.before(self.at))
        return op.results[0]

    def bias(self, c: SSAValue, width: int, old: SSAValue | None) -> SSAValue:
        """The layer's new bias: `old` (if any) plus `c` as a vector of `width` values."""
        size = int(np.prod(_shape(c)))
        target = (width,) if size == width else (1,)
        view = c if _shape(c) == target else self.one(nn.ReshapeOp(c, target), "bias_view")
        if old is not None:
            return self.one(nn.AddOp(old, view), "bias")
        if target == (width,):
            return view
        dtype = np.float16 if isinstance(nn.element_type(c), Float16Type) else np.float32
        zero = self.one(nn.ConstantOp.from_numpy(np.zeros(width, dtype)), "bias_zero")
        return self.one(nn.AddOp(zero, view), "bias")
