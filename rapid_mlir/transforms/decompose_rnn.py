"""`decompose-rnn`: writes each `nn.lstm` / `nn.gru` as the per-time-step `nn` ops the
device runs (matrix products on the MPE, gate activations and the state update on the SFU).

    rapid-opt net.mlir -p 'decompose-rnn{max-steps=64}'

The device has no recurrent layer, but it runs everything one step of one is made of:
2-D gemms, sigmoid, tanh, add, sub and mul, plus the data movement that routes the values
(`nn.reshape` views, `nn.split`, `nn.concat`). Per layer and direction `d` (all
directions and gate layouts of docs/nn-dialect.md; weights `W`, `R`, bias `B` and initial
states as operands of any kind):

- once: `X` as `[T*B, I]` (a view); `W[d]`, `R[d]`, the bias halves and the initial
  states of `d` cut out of their operands (a reshape, then one split for all directions);
  the input projection of every step at once, `XW = gemm(X, W[d]ᵀ) + bias` (one
  `[T*B, I] x [I, G*H]` gemm, the biases that add to it folded into its per-column bias),
  split along the rows into the steps' `[B, G*H]` blocks;
- per step, in the direction's time order (`t` is the time index, also for reverse):

  LSTM (gate order i, o, f, c; 11 ops)::

      gates = add(XW_t, gemm(h, R[d]ᵀ))                 .rec, .gates
      iof_pre, c_pre = split(gates, [3H, H])            .gates.split
      i, o, f = split(sigmoid(iof_pre), [H, H, H])      .sigmoid, .sigmoid.split
      c = add(mul(f, c), mul(i, tanh(c_pre)))           .tanh, .f_c, .i_cand, .c
      h = mul(o, tanh(c))                               .c.tanh, .h

  GRU (gate order z, r, h; 11 ops; `XW` is two gemms, z/r and h, and `R[d]` is cut
  into `R_zr`, `R_h` once)::

      z, r = split(sigmoid(add(XW_zr_t, gemm(h, R_zrᵀ))), [H, H])   .rec_zr, .zr_pre, .zr, .zr.split
      n = tanh(add(XW_h_t, gemm(mul(r, h), R_hᵀ)))                  .r_h, .rec_h, .n_pre, .n
      n = tanh(add(XW_h_t, mul(r, gemm(h, R_hᵀ) + Rb_h)))           (linear_before_reset)
      h = add(n, mul(z, sub(h, n)))                                 .h_n, .z_h_n, .h

  A step whose previous state is zero (the first one without `initial_h` / `initial_c`)
  leaves out the products with it: 5 to 9 ops instead of 11;
- the results: `Y` one concat of every step's `h` (time-major, then direction) viewed as
  `[T, dirs, B, H]`; `Y_h` (`Y_c`) the last state of each direction, concatenated (with
  one step and one direction, Y is a one-input concat, a copy, when Y_h is used too: the
  device cannot return two views of one buffer). A result nobody uses is not built; a
  layer none of whose results is used is erased.

Every new op's `nn.name` is the layer's (its own `nn.name`, else the generated
`<kind>_<index>` that `convert-nn-to-tile` would give it) plus where it comes from:
`lstm1.t3.gates`, `lstm1.x_proj`, `gru2.rev.t0.h` (`fwd` / `rev` in a bidirectional
layer), so traces, mappings and errors name them.

**Step limit.** The op count grows as `T x dirs x 11` (plus 7 to 25 per layer), each op
but the views a device kernel of its own: fine for the sequence lengths of a
language-model step, not for long sequences. A layer with more than `max-steps` steps
(`T x dirs`; default 64, about 720 ops) is left untouched and runs on the host
(docs/lowering.md, section 6), as is any layer marked `nn.host`; an unnamed layer that
stays keeps its generated name as its `nn.name`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.frontend.builder import ssa_name
from rapid_mlir.transforms.convert_nn_to_tile import defined_functions, layer_names
from rapid_mlir.transforms.host_lowering import HOST_ATTR

Value = SSAValue | None
"""A tensor of the decomposition, or None for a zero (an absent bias or initial state)."""


@dataclass(frozen=True)
class DecomposeRnnPass(ModulePass):
    """Rewrites `nn.lstm` / `nn.gru` into per-time-step gemms and elementwise ops."""

    name = "decompose-rnn"

    max_steps: int = 64
    """Layers with more steps (sequence length x directions) stay whole (host fallback)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.max_steps < 0:
            raise PassFailedException(f"decompose-rnn: max-steps must be >= 0 but is {self.max_steps}")
        for fn in defined_functions(op):
            self._decompose(fn)

    def _decompose(self, fn: func.FuncOp) -> None:
        names = layer_names(fn)
        for rnn in list(fn.body.walk()):
            if not isinstance(rnn, nn.LstmOp | nn.GruOp) or rnn.parent_op() is not fn:
                continue
            layer = names[rnn]
            if HOST_ATTR in rnn.attributes or steps(rnn) > self.max_steps:
                rnn.attributes[NAME_ATTR] = StringAttr(layer)  # the host op keeps its name
                continue
            if any(r.uses for r in rnn.results):
                emitter = _Emitter(Builder(InsertPoint.before(rnn)), layer)
                build = _lstm if isinstance(rnn, nn.LstmOp) else _gru
                for old, new in zip(rnn.results, build(emitter, rnn), strict=True):
                    if new is not None:
                        old.replace_all_uses_with(new)
            rnn.detach()
            rnn.erase()


def steps(rnn: nn.LstmOp | nn.GruOp) -> int:
    """The layer's time steps over all directions: sequence length x directions."""
    return rnn.input.type.get_shape()[0] * _dirs(rnn)


def _dirs(rnn: nn.LstmOp | nn.GruOp) -> int:
    return 2 if rnn.direction.data == nn.RnnDirection.BIDIRECTIONAL else 1


def _time_order(rnn: nn.LstmOp | nn.GruOp, d: int, seq: int) -> range:
    """The time indices direction `d` visits (the second of a bidirectional layer is reverse)."""
    reverse = rnn.direction.data == nn.RnnDirection.REVERSE or d == 1
    return range(seq - 1, -1, -1) if reverse else range(seq)


class _Emitter:
    """Inserts the new ops before the layer, each named `<layer>.<part>`."""

    def __init__(self, builder: Builder, layer: str):
        self.builder = builder
        self.layer = layer

    def op(self, op: Operation, part: str, hints: Sequence[str] = ()) -> Operation:
        """Inserts `op` named `<layer>.<part>`; its results' SSA names are `hints` (parts too)."""
        name = f"{self.layer}.{part}"
        op.attributes[NAME_ATTR] = StringAttr(name)
        for i, r in enumerate(op.results):
            r.name_hint = ssa_name(f"{self.layer}.{hints[i]}" if hints else name)
        return self.builder.insert(op)

    def one(self, op: Operation, part: str) -> SSAValue:
        return self.op(op, part).results[0]

    def reshape(self, x: SSAValue, shape: Sequence[int], part: str) -> SSAValue:
        if tuple(x.type.get_shape()) == tuple(shape):
            return x
        return self.one(nn.ReshapeOp(x, shape), part)

    def split(self, x: SSAValue, axis: int, sizes: Sequence[int], part: str,
              hints: Sequence[str] = ()) -> list[SSAValue]:
        if len(sizes) == 1:
            return [x]
        return list(self.op(nn.SplitOp(x, axis, sizes), part, hints).results)

    def concat(self, xs: Sequence[SSAValue], part: str) -> SSAValue:
        return xs[0] if len(xs) == 1 else self.one(nn.ConcatOp(xs, 0), part)

    def gemm_t(self, a: SSAValue, b: SSAValue, bias: Value, part: str) -> SSAValue:
        """a x bᵀ (+ bias per column): the 2-D gemm the matrix engine runs."""
        return self.one(nn.GemmOp(a, b, bias, trans_b=True), part)

    def add(self, a: SSAValue, b: Value, part: str) -> SSAValue:
        return a if b is None else self.one(nn.AddOp(a, b), part)

    def cut(self, x: SSAValue | None, sizes: Sequence[int], parts: Sequence[str],
            tags: Sequence[str], part: str) -> list[list[Value]]:
        """Direction d's pieces of a `[dirs, sum(sizes), ...]` operand, cut along its second
        axis into `sizes` and named `<tag><parts[i]>` (one reshape and one split for all
        directions); zeros (None) for an absent operand."""
        if x is None:
            return [[None] * len(sizes) for _ in tags]
        shape = x.type.get_shape()
        flat = self.reshape(x, [shape[0] * shape[1], *shape[2:]], part)
        hints = [f"{tag}{p}" for tag in tags for p in parts]
        pieces = self.split(flat, 0, list(sizes) * len(tags), f"{part}.split", hints)
        return [pieces[d * len(sizes):(d + 1) * len(sizes)] for d in range(len(tags))]

    def steps(self, xw: SSAValue, batch: int, seq: int, part: str) -> list[SSAValue]:
        """The `[T*B, n]` projection of every step cut into T `[B, n]` blocks."""
        return self.split(xw, 0, [batch] * seq, part)


def _layout(rnn: nn.LstmOp | nn.GruOp) -> tuple[int, int, int, int, int, list[str]]:
    seq, batch, inp = rnn.input.type.get_shape()
    hidden = rnn.hidden_size.value.data
    dirs = _dirs(rnn)
    tags = ["fwd.", "rev."] if dirs == 2 else [""]
    return seq, batch, inp, hidden, dirs, tags


def _lstm(e: _Emitter, rnn: nn.LstmOp) -> list[Value]:
    seq, batch, inp, hs, dirs, tags = _layout(rnn)
    x = e.reshape(rnn.input, [seq * batch, inp], "x")
    ws = e.cut(rnn.weight, [4 * hs], ["w"], tags, "w")
    rs = e.cut(rnn.recurrence, [4 * hs], ["r"], tags, "r")
    biases = e.cut(rnn.bias, [4 * hs, 4 * hs], ["wb", "rb"], tags, "b")
    h0s = e.cut(rnn.initial_h, [batch], ["h0"], tags, "h0")
    c0s = e.cut(rnn.initial_c, [batch], ["c0"], tags, "c0")
    ys: dict[tuple[int, int], SSAValue] = {}
    last_h: list[SSAValue] = []
    last_c: list[SSAValue] = []
    for d, tag in enumerate(tags):
        wb, rb = biases[d]
        bias = None if wb is None else e.add(wb, rb, f"{tag}bias")
        xw = e.gemm_t(x, ws[d][0], bias, f"{tag}x_proj")
        xws = e.steps(xw, batch, seq, f"{tag}x_steps")
        (h,), (c,) = h0s[d], c0s[d]
        for t in _time_order(rnn, d, seq):
            h, c = _lstm_step(e, f"{tag}t{t}", xws[t], rs[d][0], h, c, hs)
            ys[t, d] = h
        last_h.append(h)
        last_c.append(c)
    return _results(e, rnn, seq, batch, hs, dirs, ys, [last_h, last_c])


def _lstm_step(e: _Emitter, p: str, xw: SSAValue, r: SSAValue, h: Value, c: Value,
               hs: int) -> tuple[SSAValue, SSAValue]:
    """One LSTM step from the step's input projection and the previous state (None: zero)."""
    gates = xw if h is None else e.add(xw, e.gemm_t(h, r, None, f"{p}.rec"), f"{p}.gates")
    iof_pre, c_pre = e.split(gates, 1, [3 * hs, hs], f"{p}.gates.split", [f"{p}.iof_pre", f"{p}.c_pre"])
    iof = e.one(nn.SigmoidOp(iof_pre), f"{p}.sigmoid")
    i, o, f = e.split(iof, 1, [hs, hs, hs], f"{p}.sigmoid.split", [f"{p}.{g}" for g in "iof"])
    i_cand = e.one(nn.MulOp(i, e.one(nn.TanhOp(c_pre), f"{p}.tanh")), f"{p}.i_cand")
    if c is not None:
        c_new = e.add(e.one(nn.MulOp(f, c), f"{p}.f_c"), i_cand, f"{p}.c")
    else:
        c_new = i_cand
    h_new = e.one(nn.MulOp(o, e.one(nn.TanhOp(c_new), f"{p}.c.tanh")), f"{p}.h")
    return h_new, c_new


def _gru(e: _Emitter, rnn: nn.GruOp) -> list[Value]:
    seq, batch, inp, hs, dirs, tags = _layout(rnn)
    lbr = rnn.linear_before_reset is not None
    x = e.reshape(rnn.input, [seq * batch, inp], "x")
    ws = e.cut(rnn.weight, [2 * hs, hs], ["w_zr", "w_h"], tags, "w")
    rs = e.cut(rnn.recurrence, [2 * hs, hs], ["r_zr", "r_h"], tags, "r")
    biases = e.cut(rnn.bias, [2 * hs, hs, 2 * hs, hs], ["wb_zr", "wb_h", "rb_zr", "rb_h"], tags, "b")
    h0s = e.cut(rnn.initial_h, [batch], ["h0"], tags, "h0")
    ys: dict[tuple[int, int], SSAValue] = {}
    last_h: list[SSAValue] = []
    for d, tag in enumerate(tags):
        w_zr, w_h = ws[d]
        r_zr, r_h = rs[d]
        wb_zr, wb_h, rb_zr, rb_h = biases[d]
        bias_zr = None if wb_zr is None else e.add(wb_zr, rb_zr, f"{tag}bias_zr")
        # Without linear_before_reset Rb_h adds outside the reset gate: fold it into XW_h.
        bias_h = wb_h if lbr or wb_h is None else e.add(wb_h, rb_h, f"{tag}bias_h")
        rec_bias_h = rb_h if lbr else None
        xws_zr = e.steps(e.gemm_t(x, w_zr, bias_zr, f"{tag}x_proj_zr"), batch, seq, f"{tag}x_steps_zr")
        xws_h = e.steps(e.gemm_t(x, w_h, bias_h, f"{tag}x_proj_h"), batch, seq, f"{tag}x_steps_h")
        (h,) = h0s[d]
        for t in _time_order(rnn, d, seq):
            h = _gru_step(e, f"{tag}t{t}", xws_zr[t], xws_h[t], r_zr, r_h, rec_bias_h, h, hs, lbr)
            ys[t, d] = h
        last_h.append(h)
    return _results(e, rnn, seq, batch, hs, dirs, ys, [last_h])


def _gru_step(e: _Emitter, p: str, xw_zr: SSAValue, xw_h: SSAValue, r_zr: SSAValue, r_h: SSAValue,
              rec_bias_h: Value, h: Value, hs: int, lbr: bool) -> SSAValue:
    """One GRU step from the step's input projections and the previous state (None: zero)."""
    zr_pre = xw_zr if h is None else e.add(xw_zr, e.gemm_t(h, r_zr, None, f"{p}.rec_zr"), f"{p}.zr_pre")
    zr = e.one(nn.SigmoidOp(zr_pre), f"{p}.zr")
    z, r = e.split(zr, 1, [hs, hs], f"{p}.zr.split", [f"{p}.z", f"{p}.r"])
    if lbr:  # r ⊙ (h Rhᵀ + Rb_h)
        rec_h = rec_bias_h if h is None else e.gemm_t(h, r_h, rec_bias_h, f"{p}.rec_h")
        gated = None if rec_h is None else e.one(nn.MulOp(r, rec_h), f"{p}.r_rec_h")
    else:  # (r ⊙ h) Rhᵀ
        gated = None if h is None else e.gemm_t(e.one(nn.MulOp(r, h), f"{p}.r_h"), r_h, None, f"{p}.rec_h")
    n = e.one(nn.TanhOp(e.add(xw_h, gated, f"{p}.n_pre")), f"{p}.n")
    # (1 - z) ⊙ n + z ⊙ h, written n + z ⊙ (h - n): no constant 1, one op fewer.
    if h is None:
        return e.one(nn.SubOp(n, e.one(nn.MulOp(z, n), f"{p}.z_n")), f"{p}.h")
    h_n = e.one(nn.SubOp(h, n), f"{p}.h_n")
    return e.one(nn.AddOp(n, e.one(nn.MulOp(z, h_n), f"{p}.z_h_n")), f"{p}.h")


def _results(e: _Emitter, rnn: nn.LstmOp | nn.GruOp, seq: int, batch: int, hs: int, dirs: int,
             ys: dict[tuple[int, int], SSAValue], states: list[list[SSAValue]]) -> list[Value]:
    """Y (every step's h, time-major) and the final states, built only where they are used."""
    out: list[Value] = [None] * len(rnn.results)
    if rnn.results[0].uses:
        pieces = [ys[t, d] for t in range(seq) for d in range(dirs)]
        if len(pieces) == 1 and rnn.results[1].uses:
            # One step: Y and Y_h hold the same h. A one-input concat copies it, so the two
            # are not views of one buffer (the device could not return both).
            y = e.one(nn.ConcatOp(pieces, 0), "y.concat")
        else:
            y = e.concat(pieces, "y.concat")
        out[0] = e.reshape(y, [seq, dirs, batch, hs], "y")
    for i, (result, last) in enumerate(zip(rnn.results[1:], states, strict=True), start=1):
        if result.uses:
            part = "y_h" if i == 1 else "y_c"
            out[i] = e.reshape(e.concat(last, f"{part}.concat"), [dirs, batch, hs], part)
    return out
