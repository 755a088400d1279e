"""The functional effect of every data instruction, written once.

Each function implements the `semantics` string of its entry in
`rapid_mlir.backend.isa.INSTRUCTIONS` (quoted in the docstrings) with whole-tile numpy
calls, never a Python loop over elements. Compute happens in float32: f16 operands are
decoded from the machine's 16-bit format, results are rounded to the destination's
type when stored (`Memory.store`). Control instructions (li, addi, loop, wait, signal,
barrier, halt) change only scheduler state and live in `scheduler.py`.

Order inside one instruction: bounds of every operand, then the race checks (reads,
then the write), then the effect, so a faulting instruction changes nothing.
"""

from __future__ import annotations

import numpy as np

from rapid_mlir.backend.isa import Space
from rapid_mlir.emulator.memory import RAW, Memory, Region
from rapid_mlir.reference.kernels import erf as _erf

F32 = np.float32
_F32_VIEW = np.dtype("<f4")


class DmaOp:
    """A compiled `dma.copy`: dst and src regions (src: its unpadded interior)."""

    __slots__ = ("dst", "src", "interior", "fill", "remote", "to_dram", "from_dram", "nbytes",
                 "latency", "hops")

    def __init__(self, dst: Region, src: Region, interior, fill: int | None, remote: int | None,
                 nbytes: int, latency: int, hops: int):
        self.dst, self.src = dst, src
        self.interior = interior  # slices of dst that come from memory, None when unpadded
        self.fill = fill  # pad value bits
        self.remote = remote  # destination core when lx@core
        self.to_dram = dst.space is Space.DRAM
        self.from_dram = src.space is Space.DRAM
        self.nbytes = nbytes  # bytes through the bandwidth server
        self.latency = latency
        self.hops = hops


class MpeOp:
    """A compiled `mpe.mm` / `mpe.mma`."""

    __slots__ = ("c", "a", "b", "mo", "mi", "n", "k", "accumulate", "macs", "duration")

    def __init__(self, c: Region, a: Region, b: Region, accumulate: bool, duration: int):
        self.c, self.a, self.b = c, a, b
        self.mo, self.mi, self.n = c.shape
        self.k = a.shape[2]
        self.accumulate = accumulate
        self.macs = self.mo * self.mi * self.n * self.k
        self.duration = duration


class SfuOp:
    """A compiled SFU instruction: destination, sources, float immediates, the numpy
    function computing it and its duration."""

    __slots__ = ("mnemonic", "dst", "srcs", "params", "fn", "duration", "axes")

    def __init__(self, mnemonic: str, dst: Region, srcs: list[Region], params: tuple, duration: int,
                 axes: tuple[int, ...] = ()):
        self.mnemonic = mnemonic
        self.dst, self.srcs = dst, srcs
        self.params = tuple(F32(p) for p in params)
        self.fn = SFU_FUNCTIONS[mnemonic]
        self.duration = duration
        self.axes = axes  # reduced axes (pooling window, or the innermost dimension)


def _space(mem: Memory, region: Region, core: int, corelet: int):
    return mem.space(region.space, core, corelet)


# dma.copy ------------------------------------------------------------------------------------


def dma_copy(mem: Memory, races, st, op: DmaOp) -> None:
    """isa `dma.copy`: for each index i of dst's shape, dst[i] = src[i] if i is inside src's
    unpadded region else padval (default 0.0); element bits are copied unchanged."""
    regs = st.regs
    dsp = mem.lx[op.remote] if op.remote is not None else _space(mem, op.dst, st.core, 0)
    ssp = _space(mem, op.src, st.core, 0)
    dfirst, sfirst = op.dst.first(regs), op.src.first(regs)
    dsp.check(op.dst, dfirst)
    if not op.src.empty:
        ssp.check(op.src, sfirst)
    if races is not None:
        races.access(st, ssp, op.src, sfirst, True, False)
        races.access(st, dsp, op.dst, dfirst, False, True)
    raw = RAW[op.dst.dtype]
    if op.interior is None:
        mem.store_raw(dsp, op.dst, dfirst, ssp.view(op.src, sfirst, raw))
        return
    tile = np.full(op.dst.shape, op.fill, dtype=raw)
    if not op.src.empty:
        tile[op.interior] = ssp.view(op.src, sfirst, raw)
    mem.store_raw(dsp, op.dst, dfirst, tile)


# mpe.mm / mpe.mma ---------------------------------------------------------------------------


def mpe_matmul(mem: Memory, races, st, op: MpeOp) -> None:
    """isa `mpe.mm`: C[mo,mi,n] = sum_k A[mo,mi,k] * B[k,n]; `mpe.mma`: C += the same.
    A, B f16 in LX, C f32 in ACC; products exact in fp32, accumulation in fp32: one
    float32 matmul of the decoded tiles."""
    regs = st.regs
    lx = mem.lx[st.core]
    acc = mem.acc[st.core][st.corelet]
    fa, fb, fc = op.a.first(regs), op.b.first(regs), op.c.first(regs)
    lx.check(op.a, fa)
    lx.check(op.b, fb)
    acc.check(op.c, fc)
    if races is not None:
        races.access(st, lx, op.a, fa, True, False)
        races.access(st, lx, op.b, fb, True, False)
        races.access(st, acc, op.c, fc, op.accumulate, True)
    a = mem.load_cached(lx, op.a, fa).reshape(op.mo * op.mi, op.k)
    b = mem.load_cached(lx, op.b, fb)
    product = np.matmul(a, b).reshape(op.mo, op.mi, op.n)
    c = acc.view(op.c, fc, _F32_VIEW)
    if op.accumulate:
        np.add(c, product, out=c)
    else:
        c[...] = product


# SFU ------------------------------------------------------------------------------------------


def sfu_apply(mem: Memory, races, st, op: SfuOp) -> None:
    """Every SFU instruction: load the sources as float32, compute `op.fn` (the isa
    semantics of `op.mnemonic`) in float32, store rounded to dst's type."""
    regs = st.regs
    core, corelet = st.core, st.corelet
    firsts = []
    for src in op.srcs:
        sp = _space(mem, src, core, corelet)
        f = src.first(regs)
        sp.check(src, f)
        firsts.append((sp, f))
    dsp = _space(mem, op.dst, core, corelet)
    dfirst = op.dst.first(regs)
    dsp.check(op.dst, dfirst)
    if races is not None:
        for src, (sp, f) in zip(op.srcs, firsts):
            races.access(st, sp, src, f, True, False)
        races.access(st, dsp, op.dst, dfirst, False, True)
    values = [mem.load(sp, src, f) for src, (sp, f) in zip(op.srcs, firsts)]
    mem.store(dsp, op.dst, dfirst, op.fn(op, *values))


def _sigmoid(op, x):
    return F32(1) / (F32(1) + np.exp(-x))


def _log(op, x):
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, log(< 0) = NaN, as defined
        return np.log(x)


SFU_FUNCTIONS = {
    # isa sfu.<unary>: "... computed in fp32, rounded to dst's type"
    "sfu.copy": lambda op, x: x,
    "sfu.relu": lambda op, x: np.maximum(x, F32(0)),
    "sfu.sigmoid": _sigmoid,
    "sfu.tanh": lambda op, x: np.tanh(x),
    "sfu.exp": lambda op, x: np.exp(x),
    "sfu.erf": lambda op, x: _erf(x),  # float64 series / Chebyshev, rounded to fp32 (reference kernel)
    "sfu.sqrt": lambda op, x: np.sqrt(x),
    "sfu.recip": lambda op, x: F32(1) / x,
    "sfu.clip": lambda op, x: np.minimum(np.maximum(x, op.params[0]), op.params[1]),
    "sfu.scale": lambda op, x: x * op.params[0] + op.params[1],
    "sfu.log": _log,
    # isa sfu.<binary>: "dst = a op b; ... computed in fp32"
    "sfu.add": lambda op, a, b: a + b,
    "sfu.sub": lambda op, a, b: a - b,
    "sfu.mul": lambda op, a, b: a * b,
    "sfu.div": lambda op, a, b: a / b,
    "sfu.max": lambda op, a, b: np.maximum(a, b),
    "sfu.min": lambda op, a, b: np.minimum(a, b),
    "sfu.fma": lambda op, a, b, c: a * b + c,
    # isa sfu.rsum / sfu.rmax: over the innermost dimension, dst's innermost size is 1
    "sfu.rsum": lambda op, x: np.sum(x, axis=-1, keepdims=True, dtype=F32),
    "sfu.rmax": lambda op, x: np.max(x, axis=-1, keepdims=True),
    # isa pooling: src's region carries the window as trailing dimensions (`op.axes`)
    "sfu.maxpool": lambda op, x: np.max(x, axis=op.axes),
    "sfu.avgpool": lambda op, x: np.sum(x, axis=op.axes, dtype=F32) * op.params[0],
}
"""float32 numpy implementation of every SFU mnemonic."""

