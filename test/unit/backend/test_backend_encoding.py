"""The binary encoding: field tables derived from the ISA, round trips at the field
extremes and on random instructions, range errors and malformed bytes."""

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instruction_strategies import instructions

from rapid_mlir.backend.encoding import (
    FORMATS,
    SIZES,
    EncodingError,
    Field,
    decode,
    decode_stream,
    encode,
    encode_stream,
    format_table_markdown,
)
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


def test_formats_follow_the_isa_table():
    assert set(FORMATS) == set(INSTRUCTIONS)
    for m, fields in FORMATS.items():
        assert fields[0] == Field("opcode", 8)
        assert SIZES[m] % 8 == 0 and SIZES[m] * 8 >= sum(f.bits for f in fields)
        assert len({f.name for f in fields}) == len(fields)
    names = [f.name for f in FORMATS["mpe.mm"]]
    assert names[1:8] == ["c.space", "c.dtype", "c.reg", "c.offset", "c.ndims", "c.core.present", "c.core"]
    assert Field("a.stride1", STRIDE_BITS, True) in FORMATS["mpe.mm"]
    assert Field("a.size3", SIZE_BITS) in FORMATS["mpe.mm"]
    assert [f.name for f in FORMATS["signal"]] == ["opcode", "sem", "core.present", "core"]
    assert "src.has_pads" in [f.name for f in FORMATS["dma.copy"]]
    assert [f.name for f in FORMATS["dma.copy"]][-2:] == ["padval.present", "padval"]
    assert [f.name for f in FORMATS["sfu.maxpool"]][-5:] == ["win.ndims", "win.size0", "win.stride0",
                                                            "win.size1", "win.stride1"]


def test_known_bytes():
    # li r1, -2: opcode 0x03, rd = 1 (8 bits), imm = -2 (32 bits two's complement)
    word = 0x03 | 1 << 8 | (0xFFFFFFFE << 16)
    assert encode(Instruction("li", {"rd": 1, "imm": -2})) == word.to_bytes(8, "little")
    assert encode(Instruction("halt")) == b"\x02" + bytes(7)
    # signal s5 @3: presence flag at bit 24, core at bits 25..32
    assert encode(Instruction("signal", {"sem": 5, "core": 3})) == (0x07 | 5 << 8 | 1 << 24 | 3 << 25).to_bytes(8, "little")


def _extreme_value(kind: Kind, high: bool):
    """Every field of an operand at its maximum (or minimum) value."""
    i8 = 255 if high else 0
    i32 = 2**31 - 1 if high else -(2**31)
    size = 2**SIZE_BITS - 1 if high else 0
    stride = 2 ** (STRIDE_BITS - 1) - 1 if high else -(2 ** (STRIDE_BITS - 1))
    if kind in (Kind.AP, Kind.AP_PAD):
        dims = ((size, stride),) * MAX_DIMS
        pads = ((i8, i8),) * MAX_DIMS if kind is Kind.AP_PAD else None
        return AccessPattern(Space.ACC if high else Space.DRAM, DType.F32 if high else DType.F16,
                             dims, i32, i8, i8, pads)
    if kind is Kind.WINDOW:
        return Window(((2**16 - 1 if high else 0, stride),) * 2)
    return {Kind.REG: i8, Kind.IMM: i32, Kind.COUNT: 2**24 - 1 if high else 0,
            Kind.LEN: 2**16 - 1 if high else 0, Kind.SEM: 2**16 - 1 if high else 0, Kind.CORE: i8,
            Kind.HOST_OP: 2**16 - 1 if high else 0,
            Kind.FIMM: 3.4028234663852886e38 if high else -math.inf}[kind]


@pytest.mark.parametrize("high", [True, False], ids=["max", "min"])
@pytest.mark.parametrize("mnemonic", sorted(INSTRUCTIONS))
def test_round_trip_at_field_extremes(mnemonic, high):
    ops = {op.name: _extreme_value(op.kind, high) for op in INSTRUCTIONS[mnemonic].operands}
    instr = Instruction(mnemonic, ops)
    blob = encode(instr)
    assert len(blob) == SIZES[mnemonic]
    assert decode(blob) == (instr, len(blob))
    assert decode(b"\x00" * 3 + blob, 3) == (instr, 3 + len(blob))


def test_optional_operands_absent():
    instr = Instruction("dma.copy", {
        "dst": AccessPattern(Space.LX, DType.F16, ((4, 1),), core=1),
        "src": AccessPattern(Space.LX, DType.F16, ((4, 1),)), "padval": None})
    assert decode(encode(instr))[0] == instr
    signal = Instruction("signal", {"sem": 1, "core": None})
    assert decode(encode(signal))[0] == signal
    assert decode(encode(Instruction("signal", {"sem": 1})))[0] == signal  # absent = None


def test_pads_none_and_zero_pads_differ():
    ap = AccessPattern(Space.DRAM, DType.F16, ((4, 1), (2, 4)))
    base = {"dst": AccessPattern(Space.LX, DType.F16, ((4, 1), (2, 4))), "padval": None}
    plain = Instruction("dma.copy", {**base, "src": ap})
    zero = Instruction("dma.copy", {**base, "src": AccessPattern(ap.space, ap.dtype, ap.dims, pads=((0, 0), (0, 0)))})
    assert encode(plain) != encode(zero)
    assert decode(encode(zero))[0] == zero


def test_fimm_nan_keeps_its_bits():
    instr = Instruction("sfu.clip", {"dst": AccessPattern(Space.LX, DType.F16, ((4, 1),)),
                                     "src": AccessPattern(Space.LX, DType.F16, ((4, 1),)),
                                     "lo": math.nan, "hi": 0.1})
    out = decode(encode(instr))[0]
    assert math.isnan(out.operands["lo"])
    assert out.operands["hi"] == struct.unpack("<f", struct.pack("<f", 0.1))[0]  # rounded to fp32


AP = AccessPattern(Space.LX, DType.F16, ((8, 8), (8, 1)))
AP3 = AccessPattern(Space.LX, DType.F16, ((1, 0), (8, 8), (8, 1)))

RANGE_ERRORS = [
    (Instruction("mpe.mm", {"c": AP3, "a": AccessPattern(Space.LX, DType.F16, ((1, 0), (8, 9999999), (8, 1))), "b": AP}),
     "mpe.mm: field 'a.stride1' = 9999999 does not fit 24-bit signed [-8388608, 8388607]"),
    (Instruction("li", {"rd": 256, "imm": 0}), "li: field 'rd' = 256 does not fit 8-bit unsigned [0, 255]"),
    (Instruction("li", {"rd": 1, "imm": -(2**31) - 1}),
     "li: field 'imm' = -2147483649 does not fit 32-bit signed [-2147483648, 2147483647]"),
    (Instruction("loop", {"count": 2**24, "len": 1}), "loop: field 'count' = 16777216 does not fit 24-bit unsigned [0, 16777215]"),
    (Instruction("loop", {"count": 1, "len": -1}), "loop: field 'len' = -1 does not fit 16-bit unsigned [0, 65535]"),
    (Instruction("wait", {"sem": 70000}), "wait: field 'sem' = 70000 does not fit 16-bit unsigned [0, 65535]"),
    (Instruction("signal", {"sem": 0, "core": 300}), "signal: field 'core' = 300 does not fit 8-bit unsigned [0, 255]"),
    (Instruction("sfu.relu", {"dst": AccessPattern(Space.LX, DType.F16, ((2**20, 1),)), "src": AP}),
     "sfu.relu: field 'dst.size0' = 1048576 does not fit 20-bit unsigned [0, 1048575]"),
    (Instruction("sfu.relu", {"dst": AccessPattern(Space.LX, DType.F16, ((4, 1),), offset=2**31), "src": AP}),
     "sfu.relu: field 'dst.offset' = 2147483648 does not fit 32-bit signed"),
    (Instruction("sfu.relu", {"dst": AccessPattern(Space.LX, DType.F16, ((4, 1),), core=256), "src": AP}),
     "sfu.relu: field 'dst.core' = 256 does not fit 8-bit unsigned [0, 255]"),
    (Instruction("sfu.relu", {"dst": AccessPattern(Space.LX, DType.F16, ((1, 1),) * 5), "src": AP}),
     "sfu.relu: field 'dst.ndims' = 5 exceeds the 4 dimension slots"),
    (Instruction("dma.copy", {"dst": AP, "src": AccessPattern(Space.DRAM, DType.F16, ((8, 8), (8, 1)), pads=((256, 0), (0, 0)))}),
     "dma.copy: field 'src.pad_lo0' = 256 does not fit 8-bit unsigned [0, 255]"),
    (Instruction("sfu.maxpool", {"dst": AP, "src": AP, "win": Window(((2**16, 1),))}),
     "sfu.maxpool: field 'win.size0' = 65536 does not fit 16-bit unsigned [0, 65535]"),
    (Instruction("sfu.maxpool", {"dst": AP, "src": AP, "win": Window(((2, 1),) * 3)}),
     "sfu.maxpool: field 'win.ndims' = 3 exceeds the 2 window slots"),
    (Instruction("sfu.clip", {"dst": AP, "src": AP, "lo": 1e39, "hi": 0.0}),
     "sfu.clip: field 'lo' = 1e+39 does not fit fp32"),
    (Instruction("sfu.relu", {"dst": AP, "src": AccessPattern(Space.LX, DType.F16, ((8, 8), (8, 1)), pads=((0, 0), (0, 0)))}),
     "sfu.relu: operand 'src' cannot have pads"),
    (Instruction("sfu.relu", {"dst": AP}), "sfu.relu: operand 'src' is missing"),
    (Instruction("li", {"rd": 1, "imm": 1.5}), "li: field 'imm' = 1.5 is not an integer"),
    (Instruction("li", {"rd": 1, "imm": 1, "x": 2}), "li: unknown operand 'x'"),
]


@pytest.mark.parametrize("instr, message", RANGE_ERRORS, ids=[m.split(":")[1].strip() for _, m in RANGE_ERRORS])
def test_range_errors_name_field_value_and_limit(instr, message):
    with pytest.raises(EncodingError) as err:
        encode(instr)
    assert str(err.value).startswith(message)


def test_stream_errors_name_the_instruction():
    with pytest.raises(EncodingError, match=r"^instruction 1: li: field 'rd' = 256"):
        encode_stream([Instruction("nop"), Instruction("li", {"rd": 256, "imm": 0})])


def test_decode_errors_name_the_byte_offset():
    code = encode_stream([Instruction("nop"), Instruction("li", {"rd": 1, "imm": 5})])
    assert decode_stream(code) == [Instruction("nop"), Instruction("li", {"rd": 1, "imm": 5})]
    with pytest.raises(EncodingError, match=r"^byte offset 8: unknown opcode 0xff$"):
        decode_stream(code[:8] + b"\xff" + code[9:])
    with pytest.raises(EncodingError, match=r"^byte offset 8: truncated instruction: li needs 8 bytes but only 5 remain"):
        decode_stream(code[:13])
    with pytest.raises(EncodingError, match=r"^byte offset 16: expected an instruction but the code ends"):
        decode(code, 16)


@pytest.mark.parametrize("field, value, message", [
    ("dst.space", 3, "field 'dst.space' = 3 is not a memory space"),
    ("dst.dtype", 2, "field 'dst.dtype' = 2 is not an element type"),
    ("dst.ndims", 5, "field 'dst.ndims' = 5 exceeds the 4 dimension slots"),
    ("dst.size3", 7, "field 'dst.size3' = 7 must be 0 (unused dimension slot)"),
    ("dst.core", 1, "field 'dst.core' = 1 must be 0 (no remote core)"),
])
def test_decode_is_strict(field, value, message):
    instr = Instruction("sfu.relu", {"dst": AP, "src": AP})
    word = int.from_bytes(encode(instr), "little")
    pos = 0
    for f in FORMATS["sfu.relu"]:
        if f.name == field:
            word = word & ~(((1 << f.bits) - 1) << pos) | (value << pos)
        pos += f.bits
    with pytest.raises(EncodingError, match=r"^byte offset 0: sfu.relu: " + message.replace("(", r"\(").replace(")", r"\)")):
        decode(word.to_bytes(SIZES["sfu.relu"], "little"))


def test_decode_rejects_nonzero_padding_bits():
    blob = bytearray(encode(Instruction("halt")))
    blob[7] = 0x80
    with pytest.raises(EncodingError, match="padding bits after the last field must be 0"):
        decode(bytes(blob))


def test_format_table_is_in_the_docs():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[3] / "docs" / "assembly.md"
    assert format_table_markdown() in docs.read_text(), (
        "docs/assembly.md is out of date: regenerate its encoding tables (see the docs)")


# Random instructions within the field limits -----------------------------------------

@settings(max_examples=400, deadline=None)
@given(instructions())
def test_random_instructions_round_trip(instr):
    blob = encode(instr)
    assert decode(blob) == (instr, len(blob))


@settings(max_examples=200, deadline=None)
@given(st.lists(instructions(), max_size=6))
def test_random_streams_round_trip(instrs):
    blob = encode_stream(instrs)
    assert decode_stream(blob) == instrs
    assert encode_stream(decode_stream(blob)) == blob
