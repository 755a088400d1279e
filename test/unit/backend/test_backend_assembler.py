"""The assembler and the canonical printer: every instruction, round trips both ways,
data segments in both 16-bit formats and from .npz files, and every error path."""

import math
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from instruction_strategies import instructions

from rapid_mlir.backend.assembler import AsmError, assemble, assemble_file, parse_instruction
from rapid_mlir.backend.isa import (
    INSTRUCTIONS,
    AccessPattern,
    DType,
    Engine,
    Instruction,
    Kind,
    Space,
    Window,
)
from rapid_mlir.backend.printer import format_float, format_instruction, program_to_text
from rapid_mlir.backend.program import HostOp, HostTensor, Program
from rapid_mlir.emulator.numerics import from_fp16_bits, to_fp16_bits
from rapid_mlir.machine import Machine, load_machine

RAPID_4C = load_machine("rapid-4c")
DLF_MACHINE = Machine(name="rapid-dlf", cores=1, fp16_format="dlfloat16")


def ap(space, dtype, dims, offset=0, reg=0, core=None, pads=None):
    return AccessPattern(Space[space.upper()], DType[dtype.upper()], tuple(dims), offset, reg, core, pads)


TILE = ((8, 8), (8, 1))


def sample_instruction(mnemonic: str) -> Instruction:
    """A legal instance of every instruction, built from the table's operand kinds (with
    the shapes the engine rules need), so a new instruction is covered automatically."""
    spec = INSTRUCTIONS[mnemonic]
    if mnemonic == "dma.copy":
        return Instruction(mnemonic, {
            "dst": ap("lx", "f16", ((4, 8), (8, 1)), 0x100, reg=1),
            "src": ap("dram", "f16", ((4, 64), (8, -1)), 0x2000, pads=((1, 0), (0, 2))),
            "padval": -math.inf})
    if spec.engine is Engine.MPE:
        return Instruction(mnemonic, {"c": ap("acc", "f32", ((1, 0),) + TILE, 0x40),
                                      "a": ap("lx", "f16", ((1, 0),) + TILE, reg=2),
                                      "b": ap("lx", "f16", TILE, 0x400)})
    if mnemonic in ("sfu.rsum", "sfu.rmax"):
        return Instruction(mnemonic, {"dst": ap("acc", "f32", ((8, 1), (1, 1))),
                                      "src": ap("lx", "f16", TILE, 0x80)})
    values = {"reg": 3, "imm": -0x40, "fimm": 0.25, "count": 5, "len": 1, "sem": 7, "core": 2, "host_op": 0}
    operands = {}
    for i, op in enumerate(spec.operands):
        if op.kind in (Kind.AP, Kind.AP_PAD):
            operands[op.name] = ap("lx", "f16", TILE, 0x200 * i)
        elif op.kind is Kind.WINDOW:
            operands[op.name] = Window(((2, 8), (2, 1)))
        else:
            operands[op.name] = values[op.kind.value]
    return Instruction(mnemonic, operands)


def every_instruction_program(machine=RAPID_4C) -> Program:
    streams: dict = {}
    for m, spec in INSTRUCTIONS.items():
        if m == "halt":
            continue
        stream = "dma0" if spec.engine is Engine.ANY else spec.engine.value + "0"
        streams.setdefault((0, stream), []).append(sample_instruction(m))
    for instrs in streams.values():
        instrs.append(Instruction("halt"))
    streams[(1, "sfu1")] = [sample_instruction("sfu.exp"), Instruction("halt")]
    return Program(machine, streams, host_ops=[SAMPLE_HOST_OP])  # for `host 0`


SAMPLE_HOST_OP = HostOp("t0", """func.func @host(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %t = nn.transpose %a perm [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %t : tensor<3x2xf32>
}""", (HostTensor("x", DType.F16, (2, 3), 0),), (HostTensor("odd name", DType.F32, (3, 2), 0x80),))


def test_every_instruction_assembles_and_prints_back():
    program = every_instruction_program()
    text = program_to_text(program)
    for m in INSTRUCTIONS:
        assert f"    {m}" in text
    again = assemble(text)
    assert again == program
    assert program_to_text(again) == text


CANONICAL = """\
.machine rapid-4c
.input x f16 [64, 64] @ 0x0
.output y f32 [8] @ 0x2000
.data w f16 [2, 2] @ 0x4000 = 1.0, -2.5, 0.5, 3.0
.data b f32 [3] @ 0x4010 = 0.1, -inf, 1e-05

.core 0
.stream dma0
    li r1, 0x100
    addi r2, r1, -0x40
    loop 4, 1
    dma.copy lx[r1+0x40] f16 {64:64, 64:1}, dram[0x0] f16 {64:64, 64:1} pad {1:1, 0:0} padval -inf
    dma.copy lx@2[0x100] f16 {64:1}, lx[0x0] f16 {64:1}
    wait s0
    signal s1
    signal s1 @2
    barrier
    halt
.stream mpe0
    mpe.mma acc[0x0] f32 {1:0, 8:8, 8:1}, lx[r1] f16 {1:0, 8:8, 8:1}, lx[0x2000] f16 {8:8, 8:1}
    halt
.stream sfu0
    sfu.relu lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
    sfu.clip lx[0x0] f16 {64:1}, lx[0x0] f16 {64:1}, 0.0, 6.0
    sfu.maxpool lx[0x0] f16 {4:8, 4:2}, lx[0x100] f16 {4:8, 4:2}, {2:8, 2:1}
    sfu.avgpool lx[0x0] f16 {4:8, 4:2}, lx[0x100] f16 {4:8, 4:2}, {2:8, 2:1}, 0.25
    halt

.core 3
.stream dma1
    nop
    halt
"""


def test_canonical_text_prints_back_identically():
    assert program_to_text(assemble(CANONICAL)) == CANONICAL


def test_free_form_text_prints_canonically():
    text = """\
    # comments with # or ;
    .core 3                   ; streams may come in any order
    .stream dma1
        nop
        halt
    .core 0
    .stream sfu0
      sfu.relu lx[0] f16 {64 : 1}, acc[0x0] f32 {64:1}
      sfu.clip lx[0] f16 {64:1}, lx[0] f16 {64:1}, 0, 6e0
      sfu.maxpool lx[0] f16 {4:8, 4:2}, lx[256] f16 {4:8, 4:2}, {2:8, 2:1}
      sfu.avgpool lx[0] f16 {4:8, 4:2}, lx[0x100] f16 {4:8, 4:2}, {2:8, 2:1}, .25
      halt
    .stream mpe0
      mpe.mma acc[0] f32 {1:0, 8:8, 8:1}, lx[r1+0] f16 {1:0, 8:8, 8:1}, lx[8192] f16 {8:8, 8:1}
      halt
    .stream dma0
      li r1, 256
      addi r2, r1, -64
      loop 4, 1
      dma.copy lx[r1+64] f16 {64:64, 64:1}, dram[0] f16 {64:64, 64:1} pad {1:1, 0:0} padval -inf
      dma.copy lx@2 [256] f16 {64:1}, lx[0] f16 {64:1}
      wait s0
      signal s1
      signal s1, @2
      barrier
      halt
    .input x f16 [64, 64] @ 0
    .output y f32 [8] @ 8192
    .data w f16 [2, 2] @ 0x4000 = 1, -2.5,   ; values continue after a comma
        0.5, 3
    .data b f32 [3] @ 16400 = 0.1, -inf, 0.00001
    .machine rapid-4c
    """
    assert program_to_text(assemble(textwrap.dedent(text))) == CANONICAL


def test_default_machine_and_override():
    text = ".core 0\n.stream dma0\n    halt\n"
    assert assemble(text).machine == RAPID_4C
    one = assemble(text, machine="rapid-1c")
    assert one.machine.name == "rapid-1c"
    assert program_to_text(one).startswith(".machine rapid-1c\n")
    assert assemble(".machine rapid-1c\n" + text, machine=load_machine("rapid-1c")) == one


def test_machine_file_relative_to_the_source(tmp_path):
    (tmp_path / "m.json").write_text('{"base": "rapid-1c", "registers": 4}')
    (tmp_path / "p.rasm").write_text('.machine "m.json"\n.core 0\n.stream dma0\n    li r3, 1\n    halt\n')
    program = assemble_file(tmp_path / "p.rasm")
    assert program.machine.registers == 4 and program.machine.name == "m"
    (tmp_path / "q.rasm").write_text(".machine m.json\n.core 0\n.stream dma0\n    li r4, 1\n    halt\n")
    with pytest.raises(AsmError, match=r"q.rasm:4:5: .*li: register r4 is out of range r0..r3"):
        assemble_file(tmp_path / "q.rasm")


# Data segments ----------------------------------------------------------------------


@pytest.mark.parametrize("machine", [RAPID_4C, DLF_MACHINE], ids=["ieee", "dlfloat16"])
def test_f16_data_in_the_machines_format(machine):
    values = [1.0, -2.5, 0.1, 1000.0, 3.0e-3, -0.0]
    text = (f".machine {machine.name}\n.data w f16 [6] @ 0x40 = "
            + ", ".join(repr(v) for v in values) + "\n")
    program = assemble(text, machine=machine)
    (seg,) = program.data
    fmt = machine.fp16_format
    bits = to_fp16_bits(np.array(values, np.float32), fmt)
    assert seg.data == bits.astype("<u2").tobytes()
    decoded = from_fp16_bits(np.frombuffer(seg.data, "<u2"), fmt)
    printed = program_to_text(program).splitlines()[1]
    assert printed == ".data w f16 [6] @ 0x40 = " + ", ".join(format_float(float(v)) for v in decoded)
    assert assemble(program_to_text(program), machine=machine) == program


def test_f16_formats_differ_and_specials_round_trip():
    text = ".data w f16 [6] @ 0x0 = 1.0009765625, 70000, inf, -inf, nan, -nan\n"
    ieee = assemble(text, machine=RAPID_4C)
    dlf = assemble(text, machine=DLF_MACHINE)
    assert program_to_text(ieee).splitlines()[1].endswith("= 1.0009766, inf, inf, -inf, nan, -nan")
    # DLFloat16 has 9 fraction bits, a wider range and one special code per sign for NaN
    # and infinity alike, printed as (-)nan.
    assert program_to_text(dlf).splitlines()[1].endswith("= 1.0019531, 70016.0, nan, -nan, nan, -nan")
    for program, machine in ((ieee, RAPID_4C), (dlf, DLF_MACHINE)):
        assert assemble(program_to_text(program), machine=machine) == program


def test_f32_data_and_long_lists_wrap():
    values = np.linspace(-1, 1, 40, dtype=np.float32)
    text = ".data v f32 [5, 8] @ 0x0 = " + ", ".join(format_float(float(v)) for v in values) + "\n"
    program = assemble(text)
    assert np.array_equal(np.frombuffer(program.data[0].data, "<f4"), values)
    printed = program_to_text(program)
    assert printed.count("\n    ") == 2  # 40 values: three lines of at most 16
    assert program_to_text(assemble(printed)) == printed


def test_npz_data(tmp_path):
    np.savez(tmp_path / "w.npz", v=np.arange(6, dtype=np.float64).reshape(2, 3) / 3,
             h=np.array([1.5, -2.0], np.float16))
    (tmp_path / "p.rasm").write_text('.data v f32 [2, 3] @ 0x0 file "w.npz" "v"\n'
                                     '.data h f16 [2] @ 0x100 file "w.npz" "h"\n')
    program = assemble_file(tmp_path / "p.rasm")
    v, h = program.data
    assert np.array_equal(np.frombuffer(v.data, "<f4"), (np.arange(6) / 3).astype(np.float32))
    assert np.frombuffer(h.data, "<f2").tolist() == [1.5, -2.0]
    text = program_to_text(program)
    assert ".data h f16 [2] @ 0x100 = 1.5, -2.0" in text
    assert assemble(text) == program


@pytest.mark.parametrize("decl, message", [
    ('.data v f32 [2, 3] @ 0 file "w.npz" "nope"', "'w.npz' has no entry 'nope' (entries: i, v)"),
    ('.data v f32 [3, 2] @ 0 file "w.npz" "v"', "entry 'v' of 'w.npz' has shape [2, 3] but the segment is [3, 2]"),
    ('.data v f32 [2] @ 0 file "w.npz" "i"', "entry 'i' of 'w.npz' has type int64; a float array is needed"),
    ('.data v f32 [2] @ 0 file "none.npz" "i"', "none.npz: no such file"),
])
def test_npz_errors(tmp_path, decl, message):
    np.savez(tmp_path / "w.npz", v=np.zeros((2, 3)), i=np.zeros(2, np.int64))
    (tmp_path / "p.rasm").write_text(decl + "\n")
    with pytest.raises(AsmError) as err:
        assemble_file(tmp_path / "p.rasm")
    assert str(err.value).startswith(f"{tmp_path / 'p.rasm'}:1:")
    assert message in str(err.value)


# Errors -----------------------------------------------------------------------------

S = ".core 0\n.stream dma0\n"
SFU = ".core 0\n.stream sfu0\n"
H = "    halt\n"

ERRORS = [
    ("syntax", ".input x f16 [64, ] @ 0\n",
     "1:19: syntax error: unexpected ']'; expected a number or a sign"),
    ("bad token", S + "    li r1, $3 x\n", "3:12: syntax error: unexpected '$3'; expected '@', '{', a name, a number, a sign or an access pattern"),
    ("unknown mnemonic", S + "    sfu.rleu lx[0] f16 {4:1}, lx[0] f16 {4:1}\n",
     "3:5: unknown instruction 'sfu.rleu' (did you mean 'sfu.relu'?)"),
    ("wrong operand kind", S + "    li 5, 3\n" + H, "3:8: li: operand 'rd' must be a register rN, found '5'"),
    ("wrong operand kind: float", SFU + "    sfu.clip lx[0] f16 {4:1}, lx[0] f16 {4:1}, r1, 1\n" + H,
     "3:48: sfu.clip: operand 'lo' must be a float"),
    ("wrong operand kind: ap", SFU + "    sfu.relu lx[0] f16 {4:1}, {4:1}\n" + H,
     "3:31: sfu.relu: operand 'src' must be an access pattern"),
    ("integer expected", S + "    loop 2.5, 1\n    nop\n" + H, "3:10: loop: operand 'count' must be an integer"),
    ("too few operands", S + "    li r1\n" + H, "3:5: li takes 2 operands (rd, imm) but 1 is given"),
    ("too many operands", S + "    dma.copy lx[0] f16 {4:1}, dram[0] f16 {4:1}, -inf\n" + H,
     "3:50: dma.copy takes 2 operands (dst, src) but 3 are given; optional operands are "
     "written as keywords: padval VALUE"),
    ("unknown keyword", S + "    dma.copy lx[0] f16 {4:1}, dram[0] f16 {4:1} pval 0\n" + H,
     "3:49: dma.copy has no keyword operand 'pval' (keywords: padval)"),
    ("keyword twice", S + "    dma.copy lx[0] f16 {4:1}, dram[0] f16 {4:1} padval 0 padval 1\n" + H,
     "3:58: dma.copy: operand 'padval' is given twice"),
    ("core twice", S + "    signal s1 @2 @3\n" + H, "3:18: signal takes no other @core operand"),
    ("core where none", S + "    wait s1 @2\n" + H, "3:13: wait takes no @core operand"),
    ("pad on a plain ap", SFU + "    sfu.relu lx[0] f16 {4:1}, lx[0] f16 {4:1} pad {0:0}\n" + H,
     "3:47: sfu.relu: operand 'src' cannot be padded"),
    ("pads per dim", S + "    dma.copy lx[0] f16 {4:1}, dram[0] f16 {4:1} pad {0:0, 1:1}\n" + H,
     "3:53: dma.copy: operand 'src' has 1 dimensions but 2 pads"),
    ("bad base", SFU + "    sfu.relu lx[s1+4] f16 {4:1}, lx[0] f16 {4:1}\n" + H,
     "3:17: sfu.relu: operand 'dst': the base must be rN, rN+IMM, rN-IMM or IMM, found 's1+4'"),
    ("bad dtype", SFU + "    sfu.relu lx[0] f64 {4:1}, lx[0] f16 {4:1}\n" + H,
     "3:20: sfu.relu: operand 'dst': unknown element type 'f64' (f16 or f32)"),
    ("empty dims", SFU + "    sfu.relu lx[0] f16 {}, lx[0] f16 {4:1}\n" + H,
     "3:24: sfu.relu: operand 'dst' needs at least one dimension"),
    ("fimm out of range", SFU + "    sfu.clip lx[0] f16 {4:1}, lx[0] f16 {4:1}, 0, 1e39\n" + H,
     "3:51: sfu.clip: operand 'hi' = 1e39 is outside the fp32 range"),
    ("instruction outside a stream", "    li r1, 2\n", "1:5: li: instruction outside a stream"),
    ("stream before core", ".stream dma0\n", "1:1: .stream dma0 before any .core directive"),
    ("duplicate stream", S + H + ".core 0\n.stream dma0\n" + H,
     "5:9: duplicate stream: core 0 stream dma0 was already started at line 2"),
    ("wrong stream", S + "    sfu.relu lx[0] f16 {4:1}, lx[0] f16 {4:1}\n" + H,
     "3:5: core 0 stream dma0, instruction 0: sfu.relu: runs on sfu streams, not in stream dma0"),
    ("unknown stream", ".core 0\n.stream dma7\n" + H, "2:9: core 0 stream dma7: the machine has no stream 'dma7'"),
    ("core out of range", ".core 4\n.stream dma0\n" + H, "2:9: core 4 stream dma0: the machine has cores 0..3"),
    ("missing halt", S + "    li r1, 3\n", "3:5: core 0 stream dma0: the stream must end with halt"),
    ("empty stream", S, "2:9: core 0 stream dma0: the stream must end with halt"),
    ("loop past the end", S + "    loop 2, 3\n" + H,
     "3:5: core 0 stream dma0, instruction 0: loop body of 3 instructions runs past the end"),
    ("machine check", S + "    li r99, 1\n" + H, "3:5: core 0 stream dma0, instruction 0: li: register r99 is out of range r0..r15"),
    ("encoding range", S + "    li r1, 0x80000000\n" + H,
     "3:5: core 0 stream dma0, instruction 0: li: field 'imm' = 2147483648 does not fit 32-bit signed "
     "[-2147483648, 2147483647]"),
    ("duplicate symbol", ".input x f16 [2] @ 0\n.data x f16 [2] @ 8 = 1, 2\n",
     "2:7: .data 'x': the name is already defined"),
    ("overlap", ".input x f16 [4] @ 0\n.output y f32 [2] @ 0x6\n",
     "2:1: output 'y' [0x6, 0xe) overlaps input 'x' [0x0, 0x8)"),
    ("outside dram", ".input x f16 [2] @ 0xffffffff\n",
     "1:1: input 'x' occupies [0xffffffff, 0x100000003) but DRAM is [0x0, 0x10000000)"),
    ("negative address", ".input x f16 [2] @ -2\n", "1:1: input 'x' occupies [-0x2, 0x2) but DRAM"),
    ("zero size", ".input x f16 [2, 0] @ 0\n", "1:18: .input x: dimension sizes must be >= 1, found 0"),
    ("value count", ".data w f16 [2, 2] @ 0 = 1, 2, 3\n",
     "1:24: .data w has shape [2, 2] (4 values) but 3 values are given"),
    ("bad value", ".data w f16 [2] @ 0 = 1, infinity\n", "1:26: .data w: value 1 must be a float, found 'infinity'"),
    ("unknown machine", ".machine rapid-9c\n", "1:10: unknown machine 'rapid-9c'"),
    ("machine twice", ".machine rapid-4c\n.machine rapid-4c\n", "2:1: .machine is given twice"),
]


@pytest.mark.parametrize("text, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(text, message):
    with pytest.raises(AsmError) as err:
        assemble(text, filename="t.rasm")
    first = str(err.value).splitlines()[0]
    assert first.startswith("t.rasm:" + message), first
    assert "Traceback" not in str(err.value)


def test_error_shows_the_line_and_a_caret():
    with pytest.raises(AsmError) as err:
        assemble(S + "    li 5, 3\n" + H, filename="t.rasm")
    assert str(err.value).splitlines()[1:] == ["      li 5, 3", "         ^"]
    assert (err.value.line, err.value.column) == (3, 8)


def test_machine_directive_must_agree():
    with pytest.raises(AsmError, match=r"t.rasm:1:10: the program is for machine 'rapid-1c' "
                                       r"\(fingerprint \w+\) but machine 'rapid-4c' \(fingerprint \w+\) was asked for"):
        assemble(".machine rapid-1c\n", machine="rapid-4c", filename="t.rasm")


# Single instructions, from random field values ---------------------------------------

@settings(max_examples=300, deadline=None)
@given(instructions(writable=True))
def test_instruction_text_round_trip(instr):
    assert parse_instruction(format_instruction(instr)) == instr
