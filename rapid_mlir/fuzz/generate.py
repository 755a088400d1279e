"""Seeded random `nn` graphs for the fuzzer: valid by construction, small, finite.

    case = generate(seed=7)          # case.module, case.weights, case.inputs, case.ops
    again = generate(7, choices=case.choices)   # the same graph, from its choices

Every structural decision (which op, which operand, every size and attribute) is one
integer drawn through `Choices`, and recorded; the values (weights, inputs) come from a
separate random stream. Replaying a recorded choice list gives the same graph, and
replaying an edited list (shorter, smaller numbers) gives a smaller graph: this is how
`shrink` reduces a failing case, the way Hypothesis shrinks its choice sequences. A
replayed list that runs out reads zeros (the first option, the smallest size, `False`).

A graph starts from one model input (an NCHW image, or a [seq, batch, features]
sequence, or token ids that feed an embedding `nn.gather`) and grows by `steps` ops.
Each op reads one or two values already in the graph, chosen at random (so the graph
branches: one value feeds several ops; and merges: binary ops and concat read two), and
its attributes are drawn so that its shape rules hold: odd sizes, stride and padding
combinations, groups and depthwise convolutions, broadcasting operands of lower rank or
with size-1 axes, batch 2, ceil-mode pooling, bidirectional recurrences.

Values stay finite and well conditioned, so the device's fp16 storage stays within
the fuzzer's tolerance: weights are scaled by 1/sqrt(fan-in), `nn.exp` reads a `tanh`,
`nn.sqrt` reads `sigmoid + 0.5` (as does `nn.pow`, or `sigmoid +- 1.5` for an integer
exponent), a divisor is a weight away from zero, and no value grows past `MAX_ELEMENTS`
elements (so each case compiles and emulates quickly).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp, i64
from xdsl.ir import Operation, SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.weights import WeightStore

MAX_ELEMENTS = 2048
"""No generated value has more elements than this."""

MAX_DIM = 16
"""Nor any axis longer than this."""

WEIGHTS_FILE = "weights.npz"
"""The weight file that a generated module names (its external weights)."""

INPUT_RANGE = 1.0
"""Float inputs are uniform in [-INPUT_RANGE, INPUT_RANGE)."""


@dataclass
class Case:
    """One generated graph: the module, its weights, its inputs and what it contains."""

    seed: int
    module: ModuleOp
    weights: WeightStore
    inputs: dict[str, np.ndarray]
    ops: Counter = field(default_factory=Counter)
    """How many of each `nn` op (by name, e.g. `nn.conv2d`) the graph has, weights excluded."""
    choices: list[int] = field(default_factory=list)
    """The structural choices that built it (see `Choices`)."""


class Choices:
    """The source of structural decisions: each is an integer in [0, n), drawn at random
    (or, when replaying, read from a list, clamped to n - 1, zero past its end) and
    recorded."""

    def __init__(self, seed: int, replay: list[int] | None = None):
        self.rng = np.random.default_rng(seed)
        self.replay = replay
        self.record: list[int] = []

    def draw(self, n: int, p_true: float | None = None) -> int:
        """An integer in [0, n); with `p_true` (n == 2), 1 with that probability."""
        if self.replay is None:
            v = int(self.rng.random() < p_true) if p_true is not None else int(self.rng.integers(n))
        else:
            i = len(self.record)
            v = min(max(int(self.replay[i]), 0), n - 1) if i < len(self.replay) else 0
        self.record.append(v)
        return v


def shape(v: SSAValue) -> tuple[int, ...]:
    return tuple(v.type.get_shape())


def fits(s) -> bool:
    return bool(s) and math.prod(s) <= MAX_ELEMENTS and max(s) <= MAX_DIM and min(s) >= 1


class _Gen:
    """The state of one generation: the builder, the values so far, the random source."""

    def __init__(self, seed: int, replay: list[int] | None = None):
        self.choices = Choices(seed, replay)
        self.rng = np.random.default_rng([seed, 1])  # values only: weights and inputs
        self.g = GraphBuilder(inline_limit=8)
        self.values: list[SSAValue] = []
        self.pending: list[tuple[Operation, str, np.ndarray | None]] = []
        self.count = 0
        self.ops: Counter = Counter()

    # -- random helpers -------------------------------------------------------------

    def int(self, lo: int, hi: int) -> int:
        """Uniform in [lo, hi] inclusive."""
        return lo + self.choices.draw(hi - lo + 1)

    def coin(self, p: float = 0.5) -> bool:
        return bool(self.choices.draw(2, p))

    def pick(self, seq):
        return seq[self.choices.draw(len(seq))]

    def permutation(self, n: int) -> list[int]:
        """A random permutation of range(n) (the identity when every choice is 0)."""
        perm = list(range(n))
        for i in range(n - 1):
            j = i + self.choices.draw(n - i)
            perm[i], perm[j] = perm[j], perm[i]
        return perm

    def sample(self, items, k: int) -> list:
        """`k` distinct items, in a random order (the first `k` when every choice is 0)."""
        return [items[i] for i in self.permutation(len(items))[:k]] if k else []

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    # -- weights: made now, inserted only if the op that reads them is kept ----------

    def weight(self, s, scale: float = 0.5, lo: float | None = None, signed: bool = True) -> SSAValue:
        """A weight of shape `s`, normal with std `scale`, or (with `lo`) of magnitude in
        [lo, lo + scale], with a random sign when `signed`."""
        if lo is None:
            arr = self.rng.normal(0.0, scale, s)
        else:
            arr = lo + scale * self.rng.random(s)
            if signed:
                arr = arr * self.rng.choice([-1.0, 1.0], s)
        arr = np.asarray(arr, np.float32).reshape(s)
        name = self.name("w")
        if arr.size <= self.g.inline_limit:
            op = nn.ConstantOp.from_numpy(arr)
            self.pending.append((op, name, None))
        else:
            op = nn.WeightOp(name, nn.tensor(list(s), nn.f32))
            self.pending.append((op, name, arr))
        return op.results[0]

    def commit(self, op: Operation, kind: str) -> list[SSAValue]:
        """Inserts the pending weights and `op`; returns op's results."""
        for wop, name, arr in self.pending:
            if arr is not None:
                self.g.weights.add(name, arr)
            self.g.add(wop, name=name)
        self.pending.clear()
        self.ops[op.name] += 1
        results = self.g.add_multi(op, name=self.name(kind))
        return results

    def drop(self) -> None:
        self.pending.clear()

    def emit(self, op: Operation, kind: str, keep: bool = True) -> SSAValue | None:
        """Commits `op` when its results fit, and adds them to the pool (when `keep`)."""
        if not all(fits(shape(r)) for r in op.results):
            self.drop()
            return None
        results = self.commit(op, kind)
        if keep:
            self.values.extend(r for r in results)
        return results[0]


# -- one function per op family; each returns a new value or None if not applicable ---

def _conv(s: _Gen, x: SSAValue):
    if len(shape(x)) != 4:
        return None
    n, c, h, w = shape(x)
    groups = s.pick([g for g in (1, 2, 3, c) if c % g == 0])
    per = s.int(1, 3 if groups > 1 else 2)
    o = groups * per if groups > 1 else s.int(1, 8)
    kh, kw = s.int(1, min(3, h + 2)), s.int(1, min(3, w + 2))
    dil = (s.pick([1, 1, 2]), s.pick([1, 1, 2]))
    strides = (s.pick([1, 1, 2, 3]), s.pick([1, 1, 2]))
    pads = tuple(s.int(0, 2) for _ in range(4))
    wt = s.weight((o, c // groups, kh, kw), 1.0 / math.sqrt(c // groups * kh * kw))
    bias = s.weight((o,), 0.2) if s.coin() else None
    try:
        op = nn.Conv2DOp(x, wt, bias, strides=strides, pads=pads, dilations=dil, groups=groups)
    except Exception:  # a window that does not fit: draw another op
        s.drop()
        return None
    return s.emit(op, "conv")


def _matmul(s: _Gen, x: SSAValue):
    xs = shape(x)
    k = xs[-1]
    n = s.int(1, 9)
    if len(xs) >= 3 and s.coin(0.3):  # a batched right operand, broadcast over leading axes
        rhs = s.weight((s.pick([1, xs[-3]]), k, n), 1.0 / math.sqrt(k))
    else:
        rhs = s.weight((k, n), 1.0 / math.sqrt(k))
    try:
        op = nn.MatmulOp(x, rhs)
    except Exception:
        s.drop()
        return None
    return s.emit(op, "matmul")


def _gemm(s: _Gen, x: SSAValue):
    xs = shape(x)
    if len(xs) != 2:
        if len(xs) < 3:
            return None
        x = s.emit(nn.FlattenOp(x, axis=s.int(1, len(xs) - 1)), "flatten")
        if x is None:
            return None
        xs = shape(x)
    trans_a, trans_b = s.coin(0.3), s.coin()
    m, k = (xs[1], xs[0]) if trans_a else xs
    n = s.int(1, 12)
    rhs = s.weight((n, k) if trans_b else (k, n), 1.0 / math.sqrt(k))
    bias = s.weight(s.pick([(n,), (1, n), (m, n), (m, 1)]), 0.3) if s.coin(0.7) else None
    op = nn.GemmOp(x, rhs, bias, trans_a=trans_a, trans_b=trans_b,
                   alpha=float(s.pick([1.0, 0.5, 1.5])), beta=float(s.pick([1.0, 0.5, 2.0])))
    return s.emit(op, "gemm")


def _broadcast_shape(s: _Gen, xs):
    """A shape that broadcasts with `xs` to `xs`: a suffix of it, with some axes set to 1."""
    keep = s.int(1, len(xs))
    return tuple(1 if s.coin(0.3) else d for d in xs[len(xs) - keep:])


BINARY = [nn.AddOp, nn.SubOp, nn.MulOp, nn.MaxOp, nn.MinOp]


def _binary(s: _Gen, x: SSAValue):
    cls = s.pick(BINARY + [nn.DivOp])
    xs = shape(x)
    if cls is nn.DivOp:
        other = s.weight(_broadcast_shape(s, xs), 0.5, lo=0.5)  # away from zero
    else:
        # Merge with another value of a compatible shape when there is one.
        partners = [v for v in s.values if v is not x and _broadcasts(shape(v), xs)]
        if partners and s.coin(0.7):
            other = s.pick(partners)
        else:
            other = s.weight(_broadcast_shape(s, xs), 0.5)
    lhs, rhs = (other, x) if s.coin(0.3) and cls is not nn.DivOp else (x, other)
    return s.emit(cls(lhs, rhs), "bin")


def _broadcasts(a, b) -> bool:
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da != db and 1 not in (da, db):
            return False
    return True


def _unary(s: _Gen, x: SSAValue):
    kind = s.pick(["relu", "sigmoid", "tanh", "erf", "exp", "sqrt", "gelu", "clip", "softmax", "pow"])
    if kind == "exp":
        t = s.emit(nn.TanhOp(x), "tanh", keep=False)
        return s.emit(nn.ExpOp(t), "exp")
    if kind == "sqrt":
        t = s.emit(nn.SigmoidOp(x), "sigmoid", keep=False)
        t = s.emit(nn.AddOp(t, s.weight((1,), 0.0, lo=0.5, signed=False)), "bin", keep=False)
        return s.emit(nn.SqrtOp(t), "sqrt")
    if kind == "pow":
        p = s.pick([0.75, 1.5, -0.5, 3.0, -1.0, -2.0])
        # The base is kept away from 0: sigmoid + 0.5, or + 1.5 or - 1.5 for an integer
        # exponent (a negative base, whose integer powers are finite).
        t = s.emit(nn.SigmoidOp(x), "sigmoid", keep=False)
        integer = p == int(p)
        shift = s.weight((1,), 0.0, lo=1.5 if integer else 0.5, signed=integer)
        t = s.emit(nn.AddOp(t, shift), "bin", keep=False)
        return s.emit(nn.PowOp(t, p), "pow")
    if kind == "gelu":
        return s.emit(nn.GeluOp(x, s.pick(["none", "tanh"])), "gelu")
    if kind == "clip":
        lo, hi = s.pick([(-0.5, 0.25), (None, 0.3), (-0.2, None), (0.0, 6.0)])
        return s.emit(nn.ClipOp(x, min=lo, max=hi), "clip")
    if kind == "softmax":
        rank = len(shape(x))
        return s.emit(nn.SoftmaxOp(x, axis=s.int(-rank, rank - 1)), "softmax")
    cls = {"relu": nn.ReluOp, "sigmoid": nn.SigmoidOp, "tanh": nn.TanhOp, "erf": nn.ErfOp}[kind]
    return s.emit(cls(x), kind)


def _pool(s: _Gen, x: SSAValue):
    if len(shape(x)) != 4:
        return None
    kind = s.pick(["max", "avg", "global"])
    if kind == "global":
        return s.emit(nn.GlobalAvgPoolOp(x), "gap")
    _, _, h, w = shape(x)
    kernel = (s.int(1, min(3, h)), s.int(1, min(3, w)))
    strides = (s.int(1, 2), s.int(1, 3))
    pads = (s.int(0, kernel[0] - 1), s.int(0, kernel[1] - 1), s.int(0, kernel[0] - 1), s.int(0, kernel[1] - 1))
    ceil = s.coin(0.3)
    try:
        if kind == "max":
            dil = (1, s.pick([1, 2])) if kernel[1] * 2 - 1 <= w else (1, 1)
            op = nn.MaxPool2DOp(x, kernel=kernel, strides=strides, pads=pads, dilations=dil, ceil_mode=ceil)
        else:
            op = nn.AvgPool2DOp(x, kernel=kernel, strides=strides, pads=pads, ceil_mode=ceil,
                                count_include_pad=s.coin(0.3))
    except Exception:
        return None
    return s.emit(op, f"{kind}pool")


def _norm(s: _Gen, x: SSAValue):
    xs = shape(x)
    kind = s.pick(["batch", "layer", "lrn"])
    if kind == "batch" and len(xs) >= 2:
        c = xs[1]
        op = nn.BatchNormOp(x, s.weight((c,), 0.5, lo=0.5), s.weight((c,), 0.3), s.weight((c,), 0.3),
                            s.weight((c,), 1.0, lo=0.5, signed=False), epsilon=float(s.pick([1e-5, 1e-3])))
        return s.emit(op, "bn")
    if kind == "lrn" and len(xs) >= 3:
        op = nn.LrnOp(x, size=s.pick([1, 3, 5, 2]), alpha=float(s.pick([1e-4, 1e-2, 0.1])),
                      beta=float(s.pick([0.75, 0.5])), bias=float(s.pick([1.0, 2.0])))
        return s.emit(op, "lrn")
    # LayerNorm over enough elements that the variance is not dominated by rounding.
    axes = [a for a in range(len(xs)) if math.prod(xs[a:]) >= 4]
    if not axes:
        return None
    axis = s.pick(axes)
    norm = xs[axis:]
    bias = s.weight(norm, 0.3) if s.coin() else None
    op = nn.LayerNormOp(x, s.weight(norm, 0.3, lo=0.7, signed=False), bias, axis=axis - len(xs) if s.coin() else axis,
                        epsilon=float(s.pick([1e-5, 1e-3])))
    return s.emit(op, "ln")


def _reduce(s: _Gen, x: SSAValue):
    rank = len(shape(x))
    kind = s.pick([k.value for k in nn.ReduceKind])
    axes = sorted(s.sample(range(rank), s.int(1, rank)))
    if s.coin(0.1):
        axes = []
    axes = [a - rank if s.coin(0.3) else a for a in axes]
    keep = s.coin()
    if not keep and (not axes or len(axes) == rank):
        keep = True  # keeps a rank >= 1 result
    return s.emit(nn.ReduceOp(x, kind, axes, keepdims=keep), "reduce")


def _concat(s: _Gen, x: SSAValue):
    xs = shape(x)
    axis = s.int(0, len(xs) - 1)
    partners = [v for v in s.values if len(shape(v)) == len(xs)
                and all(a == b for i, (a, b) in enumerate(zip(shape(v), xs)) if i != axis)]
    others = [s.pick(partners) for _ in range(s.int(1, 2))] if partners else [x]
    inputs = [x, *others]
    if s.coin():
        inputs.reverse()
    return s.emit(nn.ConcatOp(inputs, axis=axis - len(xs) if s.coin(0.3) else axis), "concat")


def _split(s: _Gen, x: SSAValue):
    xs = shape(x)
    axes = [a for a, d in enumerate(xs) if d >= 2]
    if not axes:
        return None
    axis = s.pick(axes)
    parts = s.int(2, min(3, xs[axis]))
    cuts = sorted(s.sample(range(1, xs[axis]), parts - 1))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, xs[axis]])]
    return s.emit(nn.SplitOp(x, axis=axis, sizes=sizes), "split")


def _reshape(s: _Gen, x: SSAValue):
    xs = shape(x)
    kind = s.pick(["reshape", "flatten", "transpose"])
    if kind == "flatten":
        return s.emit(nn.FlattenOp(x, axis=s.int(0, len(xs))), "flatten")
    if kind == "transpose":
        perm = s.permutation(len(xs))
        return s.emit(nn.TransposeOp(x, perm=perm), "transpose")
    # Regroup the factors of the element count into a new shape of rank 1 to 4.
    factors = _factors(math.prod(xs))
    factors = s.sample(factors, len(factors))
    rank = s.int(1, 4)
    dims = [1] * rank
    for f in factors:
        dims[s.int(0, rank - 1)] *= f
    return s.emit(nn.ReshapeOp(x, dims), "reshape")


def _factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def _pad(s: _Gen, x: SSAValue):
    xs = shape(x)
    rank = len(xs)
    mode = s.pick(["constant", "reflect", "edge"])
    pads = [s.pick([0, 0, 1, 2]) for _ in range(2 * rank)]
    if mode == "reflect":
        pads = [min(p, xs[i % rank] - 1) for i, p in enumerate(pads)]
    value = float(s.pick([0.0, 1.5, -0.5])) if mode == "constant" else 0.0
    return s.emit(nn.PadOp(x, pads, mode, value), "pad")


def _recurrent(s: _Gen, x: SSAValue):
    """An LSTM or GRU step over a [seq, batch, features] value."""
    xs = shape(x)
    if len(xs) != 3:
        return None
    _, batch, size = xs
    hidden = s.int(1, 5)
    direction = s.pick(["forward", "reverse", "bidirectional"])
    dirs = 2 if direction == "bidirectional" else 1
    gates = 4 if s.coin() else 3
    scale = 1.0 / math.sqrt(size + hidden)
    wt = s.weight((dirs, gates * hidden, size), scale)
    rec = s.weight((dirs, gates * hidden, hidden), scale)
    bias = s.weight((dirs, 2 * gates * hidden), 0.2) if s.coin(0.7) else None
    h0 = s.weight((dirs, batch, hidden), 0.3) if s.coin(0.3) else None
    if gates == 4:
        c0 = s.weight((dirs, batch, hidden), 0.3) if s.coin(0.3) else None
        op = nn.LstmOp(x, wt, rec, bias, h0, c0, hidden_size=hidden, direction=direction)
        kind = "lstm"
    else:
        op = nn.GruOp(x, wt, rec, bias, h0, hidden_size=hidden, direction=direction,
                      linear_before_reset=s.coin())
        kind = "gru"
    y = s.emit(op, kind)
    if y is None:
        return None
    # Y is [seq, dirs, batch, H]: back to a sequence so that more recurrences can follow.
    seq = shape(y)[0]
    return s.emit(nn.ReshapeOp(nn_transpose(s, y), [seq, batch, dirs * hidden]), "reshape")


def nn_transpose(s: _Gen, y: SSAValue) -> SSAValue:
    return s.emit(nn.TransposeOp(y, perm=[0, 2, 1, 3]), "transpose", keep=False)


OP_FAMILIES: dict[str, Callable[[_Gen, SSAValue], SSAValue | None]] = {
    "conv": _conv, "matmul": _matmul, "gemm": _gemm, "binary": _binary, "unary": _unary,
    "pool": _pool, "norm": _norm, "reduce": _reduce, "concat": _concat, "split": _split,
    "reshape": _reshape, "pad": _pad, "recurrent": _recurrent,
}


def _start(s: _Gen) -> None:
    """The model input(s): an image, a sequence, or token ids through an embedding."""
    kind = s.pick(["image", "image", "sequence", "tokens"])
    if kind == "image":
        shp = [s.int(1, 2), s.int(1, 6), s.int(2, 9), s.int(2, 9)]
        s.values.append(s.g.input("x", shp))
    elif kind == "sequence":
        s.values.append(s.g.input("x", [s.int(1, 3), s.int(1, 3), s.int(1, 8)]))
    else:
        seq, batch, vocab, dim = s.int(1, 3), s.int(1, 3), s.int(3, 12), s.int(1, 8)
        ids = s.g.input("ids", [seq, batch], i64)
        table = s.weight((vocab, dim), 1.0)
        s.emit(nn.GatherOp(table, ids, axis=0), "gather")


def generate(seed: int, steps: int | None = None, choices: list[int] | None = None) -> Case:
    """The graph of `seed`: `steps` ops (default 3 to 8) after the inputs, verified.
    With `choices`, the structure replays that list (see `Choices`) instead of drawing."""
    s = _Gen(seed, choices)
    _start(s)
    steps = steps if steps is not None else s.int(3, 8)
    families = list(OP_FAMILIES)
    done, tries = 0, 0
    while done < steps and tries < 50 * steps:
        tries += 1
        # Prefer recent values (a deep graph) but sometimes an older one (a branch).
        x = s.values[-1] if s.coin(0.6) else s.pick(s.values)
        if x.type.get_element_type() == i64:
            continue
        family = s.pick(families)
        if OP_FAMILIES[family](s, x) is not None:
            done += 1
        s.drop()
    # The newest value, and up to two more leaves (values nothing reads), are outputs, so
    # that the branches are not dead code.
    floats = [v for v in s.values if v.type.get_element_type() != i64]
    s.g.output("y", floats[-1])
    leaves = [v for v in floats[:-1] if not v.uses and isinstance(v.owner, Operation)]
    for i in sorted(s.sample(range(len(leaves)), min(2, len(leaves)))):
        s.g.output(f"y{i + 2}", leaves[i])
    module, store = s.g.finish(WEIGHTS_FILE)
    module.verify()
    return Case(seed, module, store, _inputs(module, s.rng), s.ops, s.choices.record)


def _inputs(module: ModuleOp, rng: np.random.Generator) -> dict[str, np.ndarray]:
    from rapid_mlir.reference.signature import find_entry, signature
    from rapid_mlir.weights import numpy_dtype

    out = {}
    for name, typ in signature(find_entry(module)).inputs:
        shp = tuple(typ.get_shape())
        if numpy_dtype(typ.get_element_type()).kind == "f":
            out[name] = rng.uniform(-INPUT_RANGE, INPUT_RANGE, shp).astype(np.float32)
        else:  # embedding ids: in range, sometimes negative (counted from the end)
            vocab = _vocab(module)
            out[name] = rng.integers(-vocab, vocab, shp).astype(np.int64)
    return out


def _vocab(module: ModuleOp) -> int:
    for op in module.walk():
        if isinstance(op, nn.GatherOp):
            return shape(op.data)[0]
    return 1
