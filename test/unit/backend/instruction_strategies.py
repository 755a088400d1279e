"""Hypothesis strategies for random rapid instructions within the encoding's field limits
(shared by the encoding and the assembly-text round-trip tests)."""

import struct

from hypothesis import strategies as st

from rapid_mlir.backend.isa import (
    INSTRUCTIONS,
    MAX_DIMS,
    SIZE_BITS,
    STRIDE_BITS,
    AccessPattern,
    DType,
    Instruction,
    Kind,
    Space,
    Window,
)

i8 = st.integers(0, 255)
i32 = st.integers(-(2**31), 2**31 - 1)
# Every fp32 value but NaN (whose payload is not kept): infinities and -0.0 included.
f32 = st.integers(0, 2**32 - 1).filter(lambda b: (b >> 23) & 0xFF != 0xFF or not b & 0x7FFFFF).map(
    lambda b: struct.unpack("<f", struct.pack("<I", b))[0])


def dims(n_min: int, n_max: int, size_bits: int, stride_bits: int, size_min: int):
    return st.lists(st.tuples(st.integers(size_min, 2**size_bits - 1),
                              st.integers(-(2 ** (stride_bits - 1)), 2 ** (stride_bits - 1) - 1)),
                    min_size=n_min, max_size=n_max).map(tuple)


@st.composite
def access_patterns(draw, padded: bool, writable: bool):
    shape = draw(dims(1 if writable else 0, MAX_DIMS, SIZE_BITS, STRIDE_BITS, 1 if writable else 0))
    pads = tuple(draw(st.tuples(i8, i8)) for _ in shape) if padded and draw(st.booleans()) else None
    return AccessPattern(draw(st.sampled_from(Space)), draw(st.sampled_from(DType)), shape,
                         draw(i32), draw(i8), draw(st.none() | i8), pads)


@st.composite
def instructions(draw, writable: bool = False):
    """Any instruction whose fields fit the encoding. With `writable`, only those the
    assembly text can spell (patterns have 1 to 4 dimensions of size >= 1)."""
    values = {Kind.REG: i8, Kind.IMM: i32, Kind.FIMM: f32, Kind.COUNT: st.integers(0, 2**24 - 1),
              Kind.LEN: st.integers(0, 2**16 - 1), Kind.SEM: st.integers(0, 2**16 - 1), Kind.CORE: i8,
              Kind.HOST_OP: st.integers(0, 2**16 - 1),
              Kind.AP: access_patterns(False, writable), Kind.AP_PAD: access_patterns(True, writable),
              Kind.WINDOW: dims(1 if writable else 0, 2, 16, 24, 1 if writable else 0).map(Window)}
    spec = INSTRUCTIONS[draw(st.sampled_from(sorted(INSTRUCTIONS)))]
    operands = {}
    for op in spec.operands:
        value = draw(values[op.kind])
        operands[op.name] = None if op.optional and draw(st.booleans()) else value
    return Instruction(spec.mnemonic, operands)
