"""`legalize-nn`: rewrites the matrix products the device does not lower into ones it does,
so that every `nn.gemm` and `nn.matmul` runs on the matrix engine.

    rapid-opt net.mlir -p 'legalize-nn{max-products=64}'

The MPE lowering takes 2-D products only: `nn.matmul` of two matrices, and `nn.gemm`
without `trans_a`, with alpha = beta = 1 and a bias of one value per output column (`[n]`
or `[1, n]`) or none; `trans_b` is a transposed view of B's tile. The device also runs
transposes, splits and concats (DMA kernels), reshapes (views, free) and the elementwise
ops with numpy broadcasting (SFU kernels), so every other variant is written with those
(nn to nn, the same values up to float rounding order). For a gemm `L`:

- `trans_a`: `nn.transpose` of A (perm [1, 0]), `L.lhs_t`, feeding the gemm;
- alpha != 1: an `nn.mul` by the scalar constant `L.alpha` of the smallest of A (`L.lhs_scaled`),
  B (`L.rhs_scaled`) and the product (`L.scaled`), the product counting twice when scaling
  it would unfuse a per-column bias; ties go to an operand;
- beta = 0: C dropped; beta != 1: C times the scalar constant `L.beta` (`L.bias_scaled`;
  C may be an `nn.weight` whose values the compiler never sees);
- a bias that is not per column (`[m, n]`, `[m, 1]`, `[1, 1]`, `[1]`, `[]`), or any bias
  once the product is scaled: the gemm without bias, then a broadcasting `nn.add`, `L.bias`;
- a fused activation (`act_min` / `act_max`) stays on the new gemm when it computes the
  final result, else it applies to the last op as an `nn.relu` (`act_min 0.0` alone) or
  an `nn.clip`, `L.act` (which `convert-nn-to-tile` may fuse into that op's kernel).

For a matmul `L` whose operands are not both 2-D (numpy semantics: a 1-D lhs is a row, a
1-D rhs a column, the batch dims broadcast):

- the trailing batch dims along which the rhs is not batched (extent 1 or absent) fold
  into the lhs's rows: `[B, S, K] x [K, N]` is `reshape [B*S, K]` (`L.lhs`), one 2-D
  matmul `L`, `reshape [B, S, N]` (`L.out`); 1-D operands are reshaped likewise;
- the remaining (outer) batch dims, where the rhs is batched (attention's
  `[B, H, S, D] x [B, H, D, S]`), are cut: each operand viewed as a stack of matrices
  (`L.lhs`, `L.rhs`) and split into them (`L.lhs.split`, `L.rhs.split`; an operand not
  batched there is one matrix, shared), one 2-D matmul per element of the broadcast outer
  batch (`L.b0`, `L.b1`, ... in row-major order, each pairing the slices numpy's
  broadcasting pairs), one `nn.concat` of the results along the rows (`L.concat`) and a
  reshape to the result's shape (`L.out`).

Every function result also gets a buffer of its own: a result that is (a reshape or
flatten of) a function argument, a weight or a constant, or that shares its data with an
earlier result, becomes a copy (a one-input `nn.concat`, `<result name>.copy`, a DMA
kernel on the device), since a program's outputs are separate DRAM tensors.

The product that remains keeps the layer's name `L` (a mapping pinned to `L` applies to
it) when there is one; an unnamed layer's name is `<kind>_<index>` as `convert-nn-to-tile`
generates it, and in a function this pass changes every unnamed gemm and matmul gets its
generated name as `nn.name`, so the names do not shift when ops are replaced.

**Product limit.** A matmul that needs more than `max-products` per-batch products
(default 64; each a kernel of its own, plus one split per batched operand and the
concat) is left whole and runs on the host (docs/lowering.md, section 6), as is any
product marked `nn.host`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, Float16Type, ModuleOp, StringAttr
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.dialects.nn_shapes import broadcast
from rapid_mlir.frontend.builder import ssa_name
from rapid_mlir.transforms.convert_nn_to_tile import defined_functions, _device_matrix_product, layer_names
from rapid_mlir.transforms.host_lowering import HOST_ATTR

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LegalizeNnPass(ModulePass):
    """Rewrites every gemm / matmul variant the MPE does not lower into 2-D products plus
    transposes, reshapes, splits, concats and elementwise ops."""

    name = "legalize-nn"

    max_products: int = 64
    """A matmul needing more per-batch 2-D products stays whole (host fallback)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.max_products < 1:
            raise PassFailedException(f"legalize-nn: max-products must be >= 1 but is {self.max_products}")
        for fn in defined_functions(op):
            self._legalize(fn)

    def _legalize(self, fn: func.FuncOp) -> None:
        _materialise_results(fn)
        products = [op for op in fn.body.walk()
                    if isinstance(op, nn.GemmOp | nn.MatmulOp) and op.parent_op() is fn]
        todo = [op for op in products if not _device_matrix_product(op)]
        if not todo:
            return
        names = layer_names(fn)
        for op in products:  # replaced ops must not shift the generated names of the others
            op.attributes.setdefault(NAME_ATTR, StringAttr(names[op]))
        for op in todo:
            if HOST_ATTR in op.attributes:
                continue
            plan = None if isinstance(op, nn.GemmOp) else plan_matmul(op)
            if plan is not None and plan.products > self.max_products:
                continue
            emitter = _Emitter(Builder(InsertPoint.before(op)), names[op])
            new = _gemm(emitter, op) if plan is None else _matmul(emitter, op, plan)
            op.output.replace_all_uses_with(new)
            op.detach()
            op.erase()


def _materialise_results(fn: func.FuncOp) -> None:
    """Gives every function result a buffer of its own: a result that is (a reshape or
    flatten of) a function argument, a weight or a constant, or that shares its data with
    an earlier result (the same value, or views of one value), becomes a copy, a
    one-input `nn.concat` named `<result name>.copy` (reshaped around it for a scalar)."""
    ret = fn.body.block.last_op
    if not isinstance(ret, func.ReturnOp):
        return
    seen: set[SSAValue] = set()
    results = list(ret.arguments)
    for i, value in enumerate(results):
        root = value
        while isinstance(root.owner, nn.ReshapeOp | nn.FlattenOp):
            root = root.owner.operands[0]
        stored = not isinstance(root.owner, Operation) or isinstance(root.owner, nn.WeightOp | nn.ConstantOp)
        if not stored and root not in seen:
            seen.add(root)
            continue
        name = _result_name(fn, i)
        e = _Emitter(Builder(InsertPoint.before(ret)), name)
        shape = _shape(value)
        flat = e.reshape(value, [1], "copy_in") if not shape else value
        copy = e.one(nn.ConcatOp([flat], axis=0), "copy")
        results[i] = e.reshape(copy, [], "copy_out") if not shape else copy
    ret.operands = results


def _result_name(fn: func.FuncOp, index: int) -> str:
    attrs = fn.res_attrs
    if isinstance(attrs, ArrayAttr) and index < len(attrs.data):
        name = attrs.data[index].data.get(NAME_ATTR)
        if isinstance(name, StringAttr):
            return name.data
    return f"output{index}"


class _Emitter:
    """Inserts the new ops before the product, each named `<layer>.<part>` (`<layer>` for
    the part "")."""

    def __init__(self, builder: Builder, layer: str):
        self.builder = builder
        self.layer = layer

    def op(self, op: Operation, part: str, hints: Sequence[str] = ()) -> Operation:
        name = f"{self.layer}.{part}" if part else self.layer
        op.attributes[NAME_ATTR] = StringAttr(name)
        for i, r in enumerate(op.results):
            r.name_hint = ssa_name(f"{self.layer}.{hints[i]}" if hints else name)
        return self.builder.insert(op)

    def one(self, op: Operation, part: str) -> SSAValue:
        return self.op(op, part).results[0]

    def scalar(self, value: float, element_type: Attribute, part: str) -> SSAValue:
        dtype = np.float16 if isinstance(element_type, Float16Type) else np.float32
        return self.one(nn.ConstantOp.from_numpy(np.array(value, dtype)), part)

    def reshape(self, x: SSAValue, shape: Sequence[int], part: str) -> SSAValue:
        if tuple(x.type.get_shape()) == tuple(shape):
            return x
        return self.one(nn.ReshapeOp(x, shape), part)

    def split(self, x: SSAValue, sizes: Sequence[int], part: str, hint: str) -> list[SSAValue]:
        """`x` cut along its rows into `sizes` (itself when there is one piece)."""
        if len(sizes) == 1:
            return [x]
        hints = [f"{hint}{i}" for i in range(len(sizes))]
        return list(self.op(nn.SplitOp(x, 0, sizes), part, hints).results)


def _shape(v: SSAValue) -> Shape:
    return tuple(v.type.get_shape())


def _gemm(e: _Emitter, op: nn.GemmOp) -> SSAValue:
    """alpha A' B' + beta C as a device gemm and the ops around it."""
    m, n = _shape(op.output)
    elem = nn.element_type(op.output)
    alpha, beta = float(op.alpha.value.data), float(op.beta.value.data)
    a, b = op.lhs, op.rhs
    if op.trans_a is not None:
        a = e.one(nn.TransposeOp(a, [1, 0]), "lhs_t")
    k = _shape(a)[1]
    bias = None if op.bias is None or beta == 0.0 else op.bias
    if bias is not None and beta != 1.0:
        bias = e.one(nn.MulOp(bias, e.scalar(beta, elem, "beta")), "bias_scaled")
    per_column = bias is not None and _shape(bias) in ((n,), (1, n))
    scale_product = None
    if alpha != 1.0:
        scale = e.scalar(alpha, elem, "alpha")
        # The cheapest place for alpha: the elements the extra mul reads (scaling the
        # product also costs the add that then replaces a fused per-column bias).
        costs = {"lhs": m * k, "rhs": k * n, "product": m * n * (2 if per_column else 1)}
        where = min(costs, key=costs.__getitem__)
        if where == "lhs":
            a = e.one(nn.MulOp(a, scale), "lhs_scaled")
        elif where == "rhs":
            b = e.one(nn.MulOp(b, scale), "rhs_scaled")
        else:
            scale_product = scale
    fused = per_column and scale_product is None
    lo, hi = op.act_bounds()
    last = scale_product is None and (bias is None or fused)  # the gemm computes the result
    act = {"act_min": lo, "act_max": hi} if last else {}
    y = e.one(nn.GemmOp(a, b, bias if fused else None, trans_b=op.trans_b is not None, **act), "")
    if scale_product is not None:
        y = e.one(nn.MulOp(y, scale_product), "scaled")
    if bias is not None and not fused:
        y = e.one(nn.AddOp(y, bias), "bias")
    if not last and op.has_activation():
        relu = lo == 0.0 and hi is None
        y = e.one(nn.ReluOp(y) if relu else nn.ClipOp(y, lo, hi), "act")
    return y


@dataclass(frozen=True)
class MatmulPlan:
    """How a matmul becomes 2-D products: `products` of `[rows, k] x [k, n]`, one per
    element of the broadcast `outer` batch dims (those where the rhs is batched)."""

    outer: Shape
    """the broadcast batch dims cut into separate products"""
    lhs_outer: Shape
    """the lhs's extents along `outer` (1 where it broadcasts)"""
    rhs_outer: Shape
    rows: int
    """rows of each product: the lhs's rows times the batch dims folded into them"""
    k: int
    n: int

    @property
    def products(self) -> int:
        return math.prod(self.outer)


def plan_matmul(op: nn.MatmulOp) -> MatmulPlan:
    """The products a matmul becomes (numpy semantics, 1-D operands promoted)."""
    a, b = _shape(op.lhs), _shape(op.rhs)
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    batch = broadcast(a2[:-2], b2[:-2])
    pad_a = (1,) * (len(batch) - len(a2) + 2) + a2[:-2]
    pad_b = (1,) * (len(batch) - len(b2) + 2) + b2[:-2]
    cut = len(batch)
    while cut > 0 and pad_b[cut - 1] == 1:
        cut -= 1
    return MatmulPlan(outer=batch[:cut], lhs_outer=pad_a[:cut], rhs_outer=pad_b[:cut],
                      rows=a2[-2] * math.prod(batch[cut:]), k=a2[-1], n=b2[-1])


def _matmul(e: _Emitter, op: nn.MatmulOp, plan: MatmulPlan) -> SSAValue:
    """The matmul as 2-D products of matrix slices of its operands."""
    rows, k, n = plan.rows, plan.k, plan.n
    lhs_count, rhs_count = math.prod(plan.lhs_outer), math.prod(plan.rhs_outer)
    lhs = e.reshape(op.lhs, [lhs_count * rows, k], "lhs")
    rhs = e.reshape(op.rhs, [rhs_count * k, n], "rhs")
    lhs_parts = e.split(lhs, [rows] * lhs_count, "lhs.split", "lhs.b")
    rhs_parts = e.split(rhs, [k] * rhs_count, "rhs.split", "rhs.b")
    if plan.products == 1:
        y = e.one(nn.MatmulOp(lhs_parts[0], rhs_parts[0]), "")
    else:
        outs = []
        for p, index in enumerate(itertools.product(*(range(d) for d in plan.outer))):
            i = _broadcast_index(index, plan.lhs_outer)
            j = _broadcast_index(index, plan.rhs_outer)
            outs.append(e.one(nn.MatmulOp(lhs_parts[i], rhs_parts[j]), f"b{p}"))
        y = e.one(nn.ConcatOp(outs, 0), "concat")
    return e.reshape(y, _shape(op.output), "out")


def _broadcast_index(index: Shape, extents: Shape) -> int:
    """The row-major position, in an operand of batch `extents`, of the slice that numpy
    pairs with the broadcast batch element `index` (index 0 along extent-1 dims)."""
    flat = 0
    for i, d in zip(index, extents, strict=True):
        flat = flat * d + (i if d > 1 else 0)
    return flat
