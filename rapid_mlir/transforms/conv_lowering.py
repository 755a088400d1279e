"""Convolutions for `convert-tile-to-mem`: shifted GEMMs over an input tile in LX.

For output pixels (oh, ow) and kernel offset (kh, kw), the MPE's A operand is the input
tile read at rows `oh * stride + kh * dilation` and columns `ow * stride + kw * dilation`
with the channels as the reduction: a 3-D access pattern over the tile (no im2col copy).
B is the weight tile `[oc][ic][kh][kw]` read at the offset; every (kh, kw, ic step) is
one MPE instruction accumulating into the same accumulator tile. The accumulator holds
`[oh][ow][oc]`; the SFU epilogue writes it to LX as `[oc][oh][ow]` (the NCHW order of the
output) and the tile is stored.

The loop nest, the splits, ragged tiles and double buffering are `mpe_lowering`'s; here
are the convolution's layouts:

- input tile `[lx(ic)][rows][cols]` per (n, g, ic, oh, ow) step: the window its output
  tile reads, halo included. Where the window crosses the image border the DMA pads it
  (`pads {lo:hi}` per dim, zeros): the first and last LX steps along `oh` (and `ow`)
  have their own padding, so they are peeled; the steps between them are a loop with no
  padding. A ragged last tile has a smaller window, in the same buffer.
- weight tile `[lx(oc)][lx(ic)][kh][kw]` (one contiguous run per output channel), its
  bias `[lx(oc)]`.
- output tile `[lx(oc)][lx(oh)][lx(ow)]` in LX, the NCHW order: the epilogue writes each
  L0 tile (ACC `[oh][ow][oc]`) to its place, and the tile is stored from there.
- `lx(ic) < ic`: the partial sums of the output tile stay in ACC across the LX `ic` steps.

**Kernel columns in the SIMD lanes** (`simd(kw,ic)`, for few input channels: a stem
conv's 3 channels fill 3 of the 8 lanes): the input tile is loaded as `[rows][cols][ic]`
(channels innermost; the DMA reorders) and the weight as `[oc][kh][kw][ic]`, so that for
one kernel row `kh` the `kw x ic` products of an output pixel are one contiguous run of
the tile: the MPE's k is `kw * ic`, one instruction per `kh` instead of one per
`(kh, kw)`. Needs dilation 1 along the width, `ic` and `kw` whole in LX and L0, and no
`ic` split over cores.

Supported mappings: `rows(oh,ow) cols(oc) simd(ic)` or `simd(kw,ic)`; one dim split over cores and one
(not a reduction dim) over corelets, evenly or not; any LX and L0 tiles with `kh`, `kw`
whole and `lx(n) = lx(g) = 1`. A split of `ic` over cores (batch 1, one group) is
combined over the ring (`ring_reduction.py`): each core's L0 tiles leave ACC as f32
partial sums at their NCHW place in the whole output (`store_access`), which the ring
kernel reads as the matrix `[oc][oh * ow]`.
"""

from __future__ import annotations

from xdsl.ir import SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.transforms.mpe_lowering import (
    Aff,
    Epilogue,
    MpeEmitter,
    MpePlan,
    Window,
    access,
    build_kernel,
    fail,
)


def _check_folded(layer: str, mapping: Mapping, plan: MpePlan, dims: dict[str, int], dw: int) -> None:
    """The limits of simd(kw,ic) (module docstring)."""
    if dw != 1:
        fail(layer, f"simd(kw,ic) needs dilation 1 along the width (found {dw}): the kernel columns of a "
                    "pixel must be adjacent in the input tile")
    if plan.core_dim == "ic" or plan.corelet_dim == "ic":
        fail(layer, "simd(kw,ic) with ic split over cores or corelets is not lowered")
    for clause in ("lx", "l0"):
        for d in ("kw", "ic"):
            if getattr(mapping, clause).get(d, 1) != dims[d]:
                fail(layer, f"simd(kw,ic) needs {clause}({d}) = {dims[d]} (the whole extent), found "
                            f"{clause}({d}={getattr(mapping, clause).get(d, 1)})")


class ConvEmitter(MpeEmitter):
    """One region's convolution code."""

    MPE_A = "input"
    MPE_B = "weight"
    L0_DIMS = ("oh", "ow", "oc")

    def __init__(self, *args, op: nn.Conv2DOp):
        super().__init__(*args)
        self.folded = "kw" in self.p.mapping.simd  # simd(kw,ic): layouts [rows][cols][ic], [oc][kh][kw][ic]
        self.N, self.C, self.H, self.W = op.input.type.get_shape()
        self.O, self.IC, self.KH, self.KW = op.weight.type.get_shape()
        _, _, self.OH, self.OW = op.output.type.get_shape()
        self.OCG = self.O // op.groups.value.data
        self.sh, self.sw = nn.ints(op.strides)
        self.dh, self.dw = nn.ints(op.dilations)
        self.pt, self.pl = nn.ints(op.pads)[:2]
        self.win_h, self.win_w = self.p.windows["oh"], self.p.windows["ow"]
        self.rows, self.cols = self.win_h.rows(self.tile["oh"]), self.win_w.rows(self.tile["ow"])

    def lx_shape(self, op: str) -> tuple[int, ...]:
        t = self.tile
        if op == "residual":  # the output's layout
            return self.out_tile()
        if self.folded:
            return {"input": (self.rows, self.cols, t["ic"]), "weight": (t["oc"], self.KH, self.KW, t["ic"]),
                    "bias": (t["oc"],)}[op]
        return {"input": (t["ic"], self.rows, self.cols), "weight": (t["oc"], t["ic"], self.KH, self.KW),
                "bias": (t["oc"],)}[op]

    def load(self, op: str):
        at = self.at
        if op == "residual":  # the LX output tile's part of the tensor added in the epilogue
            oc, oh, ow = at["oc"], at["oh"], at["ow"]
            ohw, th, tw = self.OH * self.OW, self.tile["oh"], self.tile["ow"]
            channel = at["n"].start * self.O + at["g"].start * self.OCG + oc.start
            src = access(((oc.size, ohw), (oh.size, self.OW), (ow.size, 1)), channel * ohw + oh.start * self.OW
                         + ow.start)
            return src, access(((oc.size, th * tw), (oh.size, tw), (ow.size, 1)))
        if self.folded and op != "bias":
            return self._load_folded(op)
        if op == "input":
            oh, ow, ic = at["oh"], at["ow"], at["ic"]
            rows, cols = self.win_h.rows(oh.size), self.win_w.rows(ow.size)
            (plo, phi), (clo, chi) = oh.pads, ow.pads
            hw = self.H * self.W
            offset = (at["n"].start * self.C + at["g"].start * self.IC + ic.start) * hw
            offset += (oh.start * self.sh + (plo - self.pt)) * self.W + ow.start * self.sw + (clo - self.pl)
            if plo + phi == rows or clo + chi == cols:
                offset = Aff()  # all padding: nothing is read
            src = access(((ic.size, hw), (rows, self.W), (cols, 1)), offset,
                         pads=((0, 0), (plo, phi), (clo, chi)))
            return src, access(((ic.size, self.rows * self.cols), (rows, self.cols), (cols, 1)))
        channel = at["g"].start * self.OCG + at["oc"].start
        oc = at["oc"]
        if op == "bias":
            return access(((oc.size, 1),), channel), access(((oc.size, 1),))
        khw = self.KH * self.KW
        ic = at["ic"]
        src = access(((oc.size, self.IC * khw), (ic.size * khw, 1)), channel * (self.IC * khw) + ic.start * khw)
        return src, access(((oc.size, self.tile["ic"] * khw), (ic.size * khw, 1)))

    def _load_folded(self, op: str):
        """simd(kw,ic): the input window as [rows][cols][ic], the weight as [oc][kh][kw][ic]."""
        at, hw, khw = self.at, self.H * self.W, self.KH * self.KW
        ic = at["ic"]
        if op == "input":
            oh, ow = at["oh"], at["ow"]
            rows, cols = self.win_h.rows(oh.size), self.win_w.rows(ow.size)
            (plo, phi), (clo, chi) = oh.pads, ow.pads
            offset = (at["n"].start * self.C + at["g"].start * self.IC + ic.start) * hw
            offset += (oh.start * self.sh + (plo - self.pt)) * self.W + ow.start * self.sw + (clo - self.pl)
            if plo + phi == rows or clo + chi == cols:
                offset = Aff()  # all padding: nothing is read
            src = access(((rows, self.W), (cols, 1), (ic.size, hw)), offset,
                         pads=((plo, phi), (clo, chi), (0, 0)))
            tic = self.tile["ic"]
            return src, access(((rows, self.cols * tic), (cols, tic), (ic.size, 1)))
        oc = at["oc"]
        channel = at["g"].start * self.OCG + oc.start
        src = access(((oc.size, self.IC * khw), (self.KH, self.KW), (self.KW, 1), (ic.size, khw)),
                     channel * (self.IC * khw) + ic.start * khw)
        tic = self.tile["ic"]
        return src, access(((oc.size, khw * tic), (self.KH, self.KW * tic), (self.KW, tic), (ic.size, 1)))

    def reduction_steps(self) -> list:
        if self.folded:  # one instruction per kernel row: k = kw x ic
            return [(kh, 0, 0, self.at["ic"].size) for kh in range(self.KH)]
        size, tic = self.at["ic"].size, self.t0["ic"]
        return [(kh, kw, ic0, min(tic, size - ic0))
                for kh in range(self.KH) for kw in range(self.KW) for ic0 in range(0, size, tic)]

    def mpe_accesses(self, step, acc_offset: Aff):
        kh, kw, ic0, tic = step
        (_, toh), (_, tow), (_, toc) = self.at0["oh"], self.at0["ow"], self.at0["oc"]
        plane, khw = self.rows * self.cols, self.KH * self.KW
        if self.folded:
            t = self.tile["ic"]
            a = access(((toh, self.sh * self.cols * t), (tow, self.sw * t), (self.KW * t, 1)),
                       ((self.rel("oh") * self.sh + kh * self.dh) * self.cols + self.rel("ow") * self.sw) * t)
            b = access(((self.KW * t, 1), (toc, khw * t)), self.rel("oc") * (khw * t) + kh * self.KW * t)
            t0w, t0c = self.t0["ow"], self.t0["oc"]
            return access(((toh, t0w * t0c), (tow, t0c), (toc, 1)), acc_offset), a, b
        a = access(((toh, self.sh * self.cols), (tow, self.sw), (tic, plane)),
                   (self.rel("oh") * self.sh + kh * self.dh) * self.cols + self.rel("ow") * self.sw
                   + (ic0 * plane + kw * self.dw))
        b = access(((tic, khw), (toc, self.tile["ic"] * khw)),
                   self.rel("oc") * (self.tile["ic"] * khw) + (ic0 * khw + kh * self.KW + kw))
        t0w, t0c = self.t0["ow"], self.t0["oc"]
        c = access(((toh, t0w * t0c), (tow, t0c), (toc, 1)), acc_offset)
        return c, a, b

    def acc_tile(self) -> tuple[int, ...]:
        return self.t0["oh"], self.t0["ow"], self.t0["oc"]

    def out_tile(self) -> tuple[int, ...]:
        return self.tile["oc"], self.tile["oh"], self.tile["ow"]

    def epilogue_accesses(self, acc_offset: Aff):
        """ACC [oh][ow][oc] -> the LX output tile [oc][oh][ow] at the L0 tile's place (+ bias
        per oc, broadcast over the pixels)."""
        (_, toh), (_, tow), (_, toc) = self.at0["oh"], self.at0["ow"], self.at0["oc"]
        t0w, t0c = self.t0["ow"], self.t0["oc"]
        th, tw = self.tile["oh"], self.tile["ow"]
        out = access(((toc, th * tw), (toh, tw), (tow, 1)),
                     self.rel("oc") * (th * tw) + self.rel("oh") * tw + self.rel("ow"))
        src = access(((toc, 1), (toh, t0w * t0c), (tow, t0c)), acc_offset)
        bias = access(((toc, 1), (toh, 0), (tow, 0)), self.rel("oc"))
        return out, src, bias

    def store_access(self):
        """The L0 tile's place in the LX output tile [oc][oh][ow], to the NCHW output."""
        at = self.at
        (_, toh), (_, tow), (_, toc) = self.at0["oh"], self.at0["ow"], self.at0["oc"]
        ohw, th, tw = self.OH * self.OW, self.tile["oh"], self.tile["ow"]
        channel = at["n"].start * self.O + at["g"].start * self.OCG + at["oc"].start + self.rel("oc")
        offset = channel * ohw + (at["oh"].start + self.rel("oh")) * self.OW + at["ow"].start + self.rel("ow")
        place = self.rel("oc") * (th * tw) + self.rel("oh") * tw + self.rel("ow")
        return (access(((toc, ohw), (toh, self.OW), (tow, 1)), offset),
                access(((toc, th * tw), (toh, tw), (tow, 1)), place))


def conv_kernel(layer: str, mapping: Mapping, op: nn.Conv2DOp, buffers: list[SSAValue], machine,
                epilogue: Epilogue, resident: tuple[str, bool] | None = None, plan_only: bool = False,
                kept: dict[str, tuple[str, bool]] | None = None):
    """The rapid_mem kernel of a convolution on DRAM buffers (input, weight[, bias], output);
    `resident` = (key, loads it) keeps the weight in LX across kernels (`MpePlan.keep_resident`);
    `kept`: "output" / "input" -> (key, stored), kept in LX for the next kernel or by the
    one before (`MpePlan.keep`)."""
    n, _, h, w = op.input.type.get_shape()
    o, ic, kh, kw = op.weight.type.get_shape()
    _, _, oh, ow = op.output.type.get_shape()
    g = op.groups.value.data
    sh, sw = nn.ints(op.strides)
    dh, dw = nn.ints(op.dilations)
    pt, pl = nn.ints(op.pads)[:2]
    dims = {"n": n, "g": g, "oc": o // g, "oh": oh, "ow": ow, "ic": ic, "kh": kh, "kw": kw}
    for dim in ("kh", "kw"):
        if mapping.lx.get(dim, 1) != dims[dim]:
            fail(layer, f"lx({dim}={mapping.lx.get(dim, 1)}) must hold all {dims[dim]} (tiling the kernel "
                        "window in LX is not lowered yet)")
    for dim in ("n", "g"):
        if mapping.lx.get(dim, 1) != 1:
            fail(layer, f"lx({dim}={mapping.lx.get(dim, 1)}): LX tiles of more than one {dim} are not "
                        "lowered yet")
    operands = {"input": ("n", "g", "ic", "oh", "ow"), "weight": ("g", "oc", "ic"), "bias": ("g", "oc")}
    if epilogue.residual:
        operands["residual"] = ("n", "g", "oc", "oh", "ow")
    windows = {"oh": Window(h, sh, dh, kh, pt), "ow": Window(w, sw, dw, kw, pl)}
    plan = MpePlan(layer, mapping, dims, ("ic", "kh", "kw"), operands, windows, machine,
                   ("oh", "ow"), ("oc",), [("ic",), ("kw", "ic")], ring=("ic",))
    if "kw" in mapping.simd:
        _check_folded(layer, mapping, plan, dims, dw)
    if resident is not None:
        plan.keep_resident("weight", *resident)
    for operand, (key, stored) in (kept or {}).items():
        plan.keep(operand, key, stored)
    names = ["input", "weight"] + (["bias"] if op.bias is not None else []) \
        + (["residual"] if epilogue.residual else [])

    def make(region, block, args):
        return ConvEmitter(plan, region, dict(zip(names, args)), args[-1], block, epilogue, op=op)

    if plan_only:  # (plan, make) for `resident_loads`
        return plan, make
    if plan.core_dim != "ic" or plan.cores == 1:
        return build_kernel(plan, make, buffers)
    if epilogue.residual:
        fail(layer, f"cores(ic={plan.core_parts}) with a fused residual add: the ring reduction's owners "
                    "do not add it (not lowered)")
    for dim, what in (("n", "a batch"), ("g", "groups")):
        if dims[dim] > 1:
            fail(layer, f"cores(ic={plan.core_parts}) with {what} of {dims[dim]}: the ring reduction of a "
                        "convolution is lowered for n = 1 and groups = 1 only")
    from rapid_mlir.transforms.ring_reduction import ring_kernel

    # The output [oc][oh][ow] as a matrix [oc][oh * ow], the bias one value per row.
    return ring_kernel(plan, make, buffers, (o, oh * ow), "bias" in names, epilogue, bias_along="m")
