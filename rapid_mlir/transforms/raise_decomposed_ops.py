"""`raise-decomposed-ops`: folds the chains of primitive ops that exporters write for
layer norm, GELU and LRN back into `nn.layer_norm`, `nn.gelu` and `nn.lrn`.

    rapid-opt net.mlir -p raise-decomposed-ops

Exporters (PyTorch's TorchScript exporter below opsets 17 and 20, TF converters) write
these layers as 5 to 9 compute nodes, which the importer maps one to one onto `nn` ops
(and so onto as many device kernels); each dedicated op is one SFU kernel. The forms
are matched on the IR the importer writes, where `Pow(v, 2)` is `nn.mul v, v`,
`Pow(v, 0.5)` is `nn.sqrt v`, `Pow(v, 1)` is `v` and `Pow(v, p)` for any other constant
p is `nn.pow v exponent p`. `+` and `*` accept their operands
in either order, and a product of three or more factors in any association. A
"scalar" is an `nn.constant` of one element (read through `nn.reshape` / `nn.flatten`)
equal to the named value within 1e-6 relative; a "parameter" is an `nn.constant` or
`nn.weight` (through the same views).

- **Layer norm** over the last `k` axes (`axes` a set of the trailing axes, `keepdims`):

      mean = reduce mean(x)          d = sub(x, mean)
      var = reduce mean(mul(d, d))   y = div(d, sqrt(add(var, eps)))
      [y = mul(y, gamma)] [y = add(y, beta)]

  -> `nn.layer_norm x, gamma bias beta axis -k epsilon eps` (gamma all ones when
  absent). gamma / beta must be parameters with the normalised shape `x.shape[-k:]`,
  possibly with leading 1s (then viewed by an `nn.reshape`, `<layer>.scale_view` /
  `.bias_view`); a mul / add that does not fit stays after the new op.
- **GELU, erf form**: the product of `x`, the scalar 0.5 and `add(erf(z), 1)` where
  `z` is `div(x, sqrt 2)` or `mul(x, 1/sqrt 2)` -> `nn.gelu x approximate none`. This
  covers PyTorch's `mul(mul(x, add(erf(div(x, 1.4142135)), 1)), 0.5)` and the
  `x * 0.5 * (1 + erf(...))` of hand-written models.
- **GELU, tanh form**: the product of `x`, 0.5 and `add(tanh(t), 1)` where `t` is the
  product of sqrt(2/pi) and `add(x, p)`, `p` the product of 0.044715, x, x and x (PyTorch
  writes `x^3` as `mul(x, mul(x, x))`) -> `nn.gelu x approximate tanh`.
- **LRN across channels**, for `x` of shape `[N, C, D1, ...]` (PyTorch's
  `local_response_norm` of a 3-D input with its shape arithmetic folded, generalised to
  any rank by a reshape instead of Unsqueeze / Squeeze)::

      s = reshape(mul(x, x)) : [N, C, D1, ...] -> [N, 1, C, D1 * ...]
      [s = pad(s) pads [0, 0, f1, 0, 0, 0, b1, 0] mode constant value 0]
      a = avg_pool2d(s) kernel [size, 1] strides [1, 1] pads [f2, 0, b2, 0]
      v = reshape(a) : -> [N, C, D1, ...]
      y = div(x, pow(add(mul(v, alpha), bias), beta))

  -> `nn.lrn x size alpha beta bias`. The window must be ONNX LRN's: `f1 + f2 =
  (size - 1) // 2` channels before and `b1 + b2 = size // 2` after (PyTorch's own window
  for an even size is the mirror image, and does not match); pool pads need
  `count_include_pad`, so that the pool always divides by `size` (which makes alpha
  ONNX's alpha). The mul by alpha (default 1) and the add of bias (default 0) are
  optional; `pow(., beta)` is any chain of `nn.pow u exponent p` (beta * p), `nn.sqrt`
  (beta / 2) and `nn.mul u, u` (beta * 2), absent for beta = 1: AlexNet's beta = 0.75
  is `Pow(., 0.75)`, one `nn.pow`.

A chain is raised only when every value inside it is used by the chain alone, its
result has the type of `x`, and no op of it is marked `nn.host`. The new op replaces
the last op of the chain and takes its `nn.name` and SSA name; the other ops, and the
constants only they used, are erased.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)
from xdsl.rewriter import InsertPoint

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.frontend.builder import ssa_name
from rapid_mlir.transforms.host_lowering import HOST_ATTR
from rapid_mlir.weights import numpy_dtype

RTOL = 1e-6
"""Relative tolerance of the scalars of a form (0.5, sqrt 2, ...)."""

SQRT2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715


@dataclass(frozen=True)
class RaiseDecomposedOpsPass(ModulePass):
    """Rewrites decomposed layer norm, GELU and LRN chains into the single nn ops."""

    name = "raise-decomposed-ops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = GreedyRewritePatternApplier([RaiseLayerNorm(), RaiseLrn(), RaiseGelu()], dce_enabled=False)
        PatternRewriteWalker(patterns).rewrite_module(op)


class RaiseLayerNorm(RewritePattern):
    """div(d, sqrt(var + eps)) [* gamma] [+ beta] -> nn.layer_norm."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, nn.DivOp) and (m := match_layer_norm(op)) is not None:
            _raise(rewriter, m)


class RaiseGelu(RewritePattern):
    """0.5 * x * (1 + erf(x / sqrt 2)) or its tanh form -> nn.gelu."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, nn.MulOp) and (m := match_gelu(op)) is not None:
            _raise(rewriter, m)


class RaiseLrn(RewritePattern):
    """x / (bias + alpha * avg_pool(x^2 over channels))^beta -> nn.lrn."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, nn.DivOp) and (m := match_lrn(op)) is not None:
            _raise(rewriter, m)


# ---------------------------------------------------------------------------
# Matches
# ---------------------------------------------------------------------------


@dataclass
class Match:
    """A recognised chain: its ops (the last one, `final`, is replaced) and how to build
    the new op before it from a list to which it appends helper ops."""

    ops: list[Operation]
    final: Operation
    build: Callable[[str, list[Operation]], Operation]
    """(layer name, list to append helper ops to) -> the new op"""


def _def(value: SSAValue, cls: type[Operation], chain: list[Operation]) -> Operation | None:
    """The op of kind `cls` defining `value`, added to `chain`; None if it is another."""
    owner = value.owner
    if not isinstance(owner, cls):
        return None
    chain.append(owner)
    return owner


def _through_views(value: SSAValue) -> SSAValue:
    while isinstance(value.owner, nn.ReshapeOp | nn.FlattenOp):
        value = value.owner.input
    return value


def scalar(value: SSAValue) -> float | None:
    """The value of a one-element `nn.constant` (through reshapes / flattens), else None."""
    owner = _through_views(value).owner
    if not isinstance(owner, nn.ConstantOp):
        return None
    attr = owner.value
    data = np.frombuffer(attr.data.data, dtype=numpy_dtype(attr.get_element_type()).newbyteorder("<"))
    return float(data[0]) if data.size == 1 else None


def _is(value: SSAValue, want: float) -> bool:
    got = scalar(value)
    return got is not None and abs(got - want) <= RTOL * abs(want)


def _is_parameter(value: SSAValue) -> bool:
    return isinstance(_through_views(value).owner, nn.ConstantOp | nn.WeightOp)


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(nn.shape_of(value))


def _scalar_operand(op: Operation) -> tuple[SSAValue, float] | None:
    """(the other operand, the scalar) of a binary op with one scalar operand."""
    for mine, other in ((op.rhs, op.lhs), (op.lhs, op.rhs)):
        value = scalar(mine)
        if value is not None:
            return other, value
    return None


def _factors(value: SSAValue, chain: list[Operation], root: bool = False) -> list[SSAValue]:
    """The leaves of the product tree of `nn.mul`s ending in `value` (each interior mul
    used once), its muls added to `chain`."""
    owner = value.owner
    if not isinstance(owner, nn.MulOp) or not (root or value.has_one_use()):
        return [value]
    chain.append(owner)
    return _factors(owner.lhs, chain) + _factors(owner.rhs, chain)


def _one_user(value: SSAValue) -> Operation | None:
    users = {use.operation for use in value.uses}
    return users.pop() if len(users) == 1 else None


# -- layer norm -------------------------------------------------------------------------


def _trailing_axes(op: nn.ReduceOp) -> int | None:
    """k when a keepdims mean reduces exactly the last k axes, else None."""
    rank = len(_shape(op.input))
    if op.kind.data != nn.ReduceKind.MEAN or op.keepdims is None:
        return None
    axes = {a % rank for a in nn.ints(op.axes)} if nn.ints(op.axes) else set(range(rank))
    k = len(axes)
    return k if axes == set(range(rank - k, rank)) else None


def _fits(op: Operation, value: SSAValue, x: SSAValue, norm: tuple[int, ...]) -> SSAValue | None:
    """The other operand of the mul / add `op` applied to `value` when it is a parameter of
    the normalised shape (up to leading 1s) and the result has the input's type."""
    param = _other(op, value)
    if param is None or not _is_parameter(param) or op.results[0].type != x.type:
        return None
    return param if _strip(_shape(param)) == _strip(norm) else None


def _strip(shape: tuple[int, ...]) -> tuple[int, ...]:
    while shape and shape[0] == 1:
        shape = shape[1:]
    return shape


def match_layer_norm(div: nn.DivOp) -> Match | None:
    chain: list[Operation] = [div]
    sub = _def(div.lhs, nn.SubOp, chain)
    sqrt = _def(div.rhs, nn.SqrtOp, chain)
    if sub is None or sqrt is None:
        return None
    x = sub.lhs
    mean = _def(sub.rhs, nn.ReduceOp, chain)
    add = _def(sqrt.input, nn.AddOp, chain)
    if mean is None or mean.input is not x or add is None or (split := _scalar_operand(add)) is None:
        return None
    var_value, eps = split
    var = _def(var_value, nn.ReduceOp, chain)
    square = var and _def(var.input, nn.MulOp, chain)
    if square is None or not (square.lhs is square.rhs is sub.output):
        return None
    k = _trailing_axes(mean)
    if k is None or _trailing_axes(var) != k or div.output.type != x.type:
        return None
    norm = _shape(x)[-k:]
    final, scale, bias = div, None, None
    user = _one_user(final.output)
    if isinstance(user, nn.MulOp) and (gamma := _fits(user, final.output, x, norm)) is not None:
        chain.append(user)
        final, scale, user = user, gamma, _one_user(user.output)
    if isinstance(user, nn.AddOp) and (beta := _fits(user, final.output, x, norm)) is not None:
        chain.append(user)
        final, bias = user, beta

    def build(layer: str, helpers: list[Operation]) -> Operation:
        s = _view(scale, norm, f"{layer}.scale_view", helpers) if scale is not None else \
            _ones(norm, x, f"{layer}.scale", helpers)
        b = None if bias is None else _view(bias, norm, f"{layer}.bias_view", helpers)
        return nn.LayerNormOp(x, s, b, axis=-k, epsilon=eps)

    return Match(chain, final, build)


def _other(op: Operation, value: SSAValue) -> SSAValue | None:
    """The operand of a binary op that is not `value` (None if both are)."""
    if op.lhs is value and op.rhs is not value:
        return op.rhs
    if op.rhs is value and op.lhs is not value:
        return op.lhs
    return None


def _view(value: SSAValue, shape: tuple[int, ...], name: str, helpers: list[Operation]) -> SSAValue:
    if _shape(value) == shape:
        return value
    return _helper(nn.ReshapeOp(value, shape), name, helpers)


def _ones(shape: tuple[int, ...], like: SSAValue, name: str, helpers: list[Operation]) -> SSAValue:
    dtype = numpy_dtype(nn.element_type(like))
    op = nn.ConstantOp.from_numpy(np.ones(shape, dtype))
    op.output.name_hint = ssa_name(name)
    helpers.append(op)
    return op.output


def _helper(op: Operation, name: str, helpers: list[Operation]) -> SSAValue:
    op.attributes[NAME_ATTR] = StringAttr(name)
    op.results[0].name_hint = ssa_name(name)
    helpers.append(op)
    return op.results[0]


# -- GELU -------------------------------------------------------------------------------


def match_gelu(mul: nn.MulOp) -> Match | None:
    chain: list[Operation] = []
    leaves = _factors(mul.output, chain, root=True)
    if len(leaves) != 3:
        return None
    for i, j in ((0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)):
        x = leaves[3 - i - j]
        if not _is(leaves[i], 0.5) or mul.output.type != x.type:
            continue
        inner: list[Operation] = []
        add = _def(leaves[j], nn.AddOp, inner)
        split = add and _scalar_operand(add)
        if split is None or abs(split[1] - 1.0) > RTOL:
            continue
        approximate = _gelu_kind(split[0], x, inner)
        if approximate is not None:
            return Match(chain + inner, mul, lambda _layer, _helpers, x=x, a=approximate: nn.GeluOp(x, a))
    return None


def _gelu_kind(value: SSAValue, x: SSAValue, chain: list[Operation]) -> str | None:
    """"none" if `value` is erf(x / sqrt 2), "tanh" if it is the tanh of GELU's tanh form."""
    if (erf := _def(value, nn.ErfOp, chain)) is not None:
        return "none" if _is_scaled(erf.input, x, 1 / SQRT2, chain) else None
    if (tanh := _def(value, nn.TanhOp, chain)) is None:
        return None
    outer = _factors(tanh.input, chain)
    for c, inner in (outer, outer[::-1]) if len(outer) == 2 else ():
        add = _is(c, SQRT_2_OVER_PI) and _def(inner, nn.AddOp, chain)
        if not add:
            continue
        p = _other(add, x)
        cubic = [] if p is None else _factors(p, chain)
        rest = [f for f in cubic if f is not x]
        if len(cubic) == 4 and len(rest) == 1 and _is(rest[0], GELU_CUBIC):
            return "tanh"
        return None
    return None


def _is_scaled(value: SSAValue, x: SSAValue, factor: float, chain: list[Operation]) -> bool:
    """Whether `value` is div(x, 1 / factor) or x * factor."""
    div = _def(value, nn.DivOp, chain)
    if div is not None:
        return div.lhs is x and _is(div.rhs, 1 / factor)
    leaves = _factors(value, chain)
    return len(leaves) == 2 and any(a is x and _is(b, factor) for a, b in (leaves, leaves[::-1]))


# -- LRN --------------------------------------------------------------------------------


def _power(value: SSAValue, chain: list[Operation]) -> tuple[SSAValue, float]:
    """(base, exponent) of a chain of powers, sqrts and squares."""
    exponent = 1.0
    while True:
        owner = value.owner
        if isinstance(owner, nn.PowOp):
            exponent, value = exponent * float(owner.exponent.value.data), owner.input
        elif isinstance(owner, nn.SqrtOp):
            exponent, value = exponent / 2, owner.input
        elif isinstance(owner, nn.MulOp) and owner.lhs is owner.rhs:
            exponent, value = exponent * 2, owner.lhs
        else:
            return value, exponent
        chain.append(owner)


def _peel(value: SSAValue, cls: type[Operation], default: float, chain: list[Operation]
          ) -> tuple[SSAValue, float]:
    """(the other operand, the scalar) of a `cls` op with a scalar operand, or (value,
    default)."""
    owner = value.owner
    if not isinstance(owner, cls) or (split := _scalar_operand(owner)) is None:
        return value, default
    chain.append(owner)
    return split


def match_lrn(div: nn.DivOp) -> Match | None:
    chain: list[Operation] = [div]
    x = div.lhs
    shape = _shape(x)
    if len(shape) < 3 or div.output.type != x.type:
        return None
    base, beta = _power(div.rhs, chain)
    base, bias = _peel(base, nn.AddOp, 0.0, chain)
    base, alpha = _peel(base, nn.MulOp, 1.0, chain)
    back = _def(base, nn.ReshapeOp, chain)
    pool = back and _def(back.input, nn.AvgPool2DOp, chain)
    if pool is None or back.output.type != x.type:
        return None
    size, one = nn.ints(pool.kernel)
    top, left, bottom, right = nn.ints(pool.pads)
    if one != 1 or nn.ints(pool.strides) != (1, 1) or left or right:
        return None
    if (top or bottom) and pool.count_include_pad is None:
        return None
    source = pool.input
    if (pad := _def(source, nn.PadOp, chain)) is not None:
        pads = nn.ints(pad.pads)
        if pad.mode.data != nn.PadMode.CONSTANT or pad.value.value.data != 0.0 or any(
                p for i, p in enumerate(pads) if i not in (2, 6)):
            return None
        top, bottom, source = top + pads[2], bottom + pads[6], pad.input
    view = _def(source, nn.ReshapeOp, chain)
    square = view and _def(view.input, nn.MulOp, chain)
    if square is None or not (square.lhs is square.rhs is x):
        return None
    n, c = shape[:2]
    if _shape(view.output) != (n, 1, c, math.prod(shape[2:])) or _shape(pool.output) != _shape(view.output):
        return None
    if (top, bottom) != ((size - 1) // 2, size // 2):
        return None
    return Match(chain, div, lambda layer, helpers: nn.LrnOp(x, size=size, alpha=alpha, beta=beta, bias=bias))


# ---------------------------------------------------------------------------
# Rewriting
# ---------------------------------------------------------------------------


def _raise(rewriter: PatternRewriter, m: Match) -> None:
    """Replaces the chain by its new op, if its inside is private to it."""
    ops = set(m.ops)
    block = m.final.parent_block()
    for op in ops:
        if op.parent_block() is not block or HOST_ATTR in op.attributes:
            return
        if op is not m.final and any(use.operation not in ops for r in op.results for use in r.uses):
            return
    name = m.final.attributes.get(NAME_ATTR)
    layer = name.data if isinstance(name, StringAttr) else (m.final.results[0].name_hint or m.final.name[3:])
    helpers: list[Operation] = []
    new = m.build(layer, helpers)
    if isinstance(name, StringAttr):
        new.attributes[NAME_ATTR] = name
    operands = [v for op in ops for v in op.operands]
    if helpers:
        rewriter.insert(helpers, InsertPoint.before(m.final))
    rewriter.replace(m.final, new)
    _erase(rewriter, ops - {m.final}, operands)


def _erase(rewriter: PatternRewriter, ops: set[Operation], operands: list[SSAValue]) -> None:
    """Erases the chain's other ops (users first), then the constants and weights (and
    views of them) among `operands` that nothing uses any more."""
    pending = set(ops)
    while pending:
        dead = [op for op in pending if not any(r.uses for r in op.results)]
        assert dead, "raise-decomposed-ops: a chain op is still used"
        for op in dead:
            rewriter.erase(op)
            pending.discard(op)
    while operands:
        value = operands.pop()
        owner = value.owner
        # A value listed twice is erased the first time (its op then has no parent).
        if value.uses or not isinstance(owner, Operation) or owner.parent is None or not _is_parameter(value):
            continue
        operands.extend(owner.operands)
        rewriter.erase(owner)

