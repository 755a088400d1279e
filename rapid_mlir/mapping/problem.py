"""Layers as loop nests: the dimensions and operands a mapping talks about.

A `Problem` names every loop dimension of a layer with its extent, and lists each
operand with the dimensions that index it. Convolutions and matrix products share one
form, the generalised matrix product the MPE computes (`C[m, n] += A[m, k] * B[k, n]`):

- conv2d: dims `n, g, oc, oh, ow, ic, kh, kw` (oc and ic per group); the input is read
  at `(oh * stride + kh * dilation - pad, ow * stride + kw * dilation - pad)`, so an
  output tile of `th x tw` rows needs an input window of
  `(th - 1) * stride + (kh - 1) * dilation + 1` rows (its halo).
- matmul / gemm: dims `b, m, n, k` (b = 1 for gemm).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Operand:
    """An operand of the loop nest: its name, the dims indexing it, bytes per element."""

    name: str
    dims: tuple[str, ...]
    itemsize: int = 2


@dataclass(frozen=True)
class Problem:
    """A layer as a loop nest."""

    layer: str                      # the nn op's name, for messages
    kind: str                       # "conv2d" or "matmul"
    dims: dict[str, int]            # dimension -> extent, in loop-nest order
    operands: tuple[Operand, ...]
    reduction: tuple[str, ...]      # the dims summed over
    params: dict[str, int] = field(default_factory=dict)  # strides, pads, dilations

    def macs(self) -> int:
        total = 1
        for extent in self.dims.values():
            total *= extent
        return total


def conv2d(layer: str, input_shape, weight_shape, strides, pads, dilations, groups) -> Problem:
    """The loop nest of an NCHW conv2d with OIHW weights."""
    n, c, h, w = input_shape
    o, ci, kh, kw = weight_shape
    from rapid_mlir.dialects.nn_shapes import conv_out_size

    oh = conv_out_size(h, kh, strides[0], pads[0], pads[2], dilations[0])
    ow = conv_out_size(w, kw, strides[1], pads[1], pads[3], dilations[1])
    dims = {"n": n, "g": groups, "oc": o // groups, "oh": oh, "ow": ow, "ic": ci, "kh": kh, "kw": kw}
    operands = (
        Operand("input", ("n", "g", "ic", "oh", "ow")),   # read through the window (halo)
        Operand("weight", ("g", "oc", "ic", "kh", "kw")),
        Operand("output", ("n", "g", "oc", "oh", "ow")),
    )
    params = {"stride_h": strides[0], "stride_w": strides[1], "dil_h": dilations[0],
              "dil_w": dilations[1], "pad_t": pads[0], "pad_l": pads[1], "pad_b": pads[2],
              "pad_r": pads[3], "in_h": h, "in_w": w}
    return Problem(layer, "conv2d", dims, operands, ("ic", "kh", "kw"), params)


def matmul(layer: str, batch: int, m: int, n: int, k: int) -> Problem:
    """The loop nest of a (batched) matrix product C[b, m, n] = A[b, m, k] x B[b, k, n]."""
    dims = {"b": batch, "m": m, "n": n, "k": k}
    operands = (Operand("lhs", ("b", "m", "k")), Operand("rhs", ("b", "k", "n")),
                Operand("output", ("b", "m", "n")))
    return Problem(layer, "matmul", dims, operands, ("k",))
