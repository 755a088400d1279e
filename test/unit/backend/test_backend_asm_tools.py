"""rapid-as and rapid-objdump: round trip through files, clean errors, no partial output."""

import pytest

from rapid_mlir.tools.rapid_as import main as rapid_as
from rapid_mlir.tools.rapid_objdump import main as rapid_objdump

PROGRAM = """\
.machine rapid-1c
.input x f16 [8] @ 0x0
.data w f32 [2] @ 0x40 = 0.5, -1.0

.core 0
.stream dma0
    dma.copy lx[0x0] f16 {8:1}, dram[0x0] f16 {8:1}
    signal s0
    halt
.stream sfu0
    wait s0
    sfu.relu lx[0x100] f16 {8:1}, lx[0x0] f16 {8:1}
    halt
"""


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "p.rasm"
    path.write_text(PROGRAM)
    return path


def test_assemble_and_dump(src, tmp_path, capsys):
    out = tmp_path / "p.rbin"
    assert rapid_as([str(src), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"RBIN"
    assert not (tmp_path / "p.rbin.tmp").exists()
    assert rapid_objdump([str(out)]) == 0
    assert capsys.readouterr().out == PROGRAM
    assert rapid_objdump([str(out), "-o", str(tmp_path / "back.rasm")]) == 0
    assert (tmp_path / "back.rasm").read_text() == PROGRAM


def test_default_output_name(src, tmp_path):
    assert rapid_as([str(src)]) == 0
    assert (tmp_path / "p.rbin").exists()


def test_header_summary(src, tmp_path, capsys):
    assert rapid_as([str(src), "-o", str(tmp_path / "p.rbin")]) == 0
    assert rapid_objdump([str(tmp_path / "p.rbin"), "--header"]) == 0
    out = capsys.readouterr().out
    head, body = out.split(".machine", 1)
    assert all(line.startswith(";") for line in head.splitlines())
    assert "; machine: rapid-1c: 1 core x 2 corelets" in head
    assert "; input x: f16 [8] @ 0x0, 16 bytes" in head
    assert "; code core 0 dma0: 3 instructions, 88 bytes" in head
    assert "; data w: f32 [2] @ 0x40, 8 bytes" in head
    assert ".machine" + body == PROGRAM


def test_assembly_error_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.rasm"
    bad.write_text(".core 0\n.stream dma0\n    li r1, 2\n")
    out = tmp_path / "bad.rbin"
    assert rapid_as([str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"rapid-as: error: {bad}:3:5: core 0 stream dma0: the stream must end with halt")
    assert "Traceback" not in err
    assert not out.exists() and not (tmp_path / "bad.rbin.tmp").exists()


def test_machine_option(src, tmp_path, capsys):
    assert rapid_as([str(src), "-o", str(tmp_path / "p.rbin"), "--machine", "rapid-4c"]) == 1
    assert "the program is for machine 'rapid-1c'" in capsys.readouterr().err
    assert rapid_as([str(src), "-o", str(tmp_path / "p.rbin"), "--machine", "rapid-1c"]) == 0
    assert rapid_objdump([str(tmp_path / "p.rbin"), "--machine", "rapid-4c"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"rapid-objdump: error: {tmp_path / 'p.rbin'}: built for machine 'rapid-1c'")
    assert rapid_as([str(src), "--machine", "rapid-77c"]) == 1
    assert "rapid-as: error: unknown machine 'rapid-77c'" in capsys.readouterr().err


def test_objdump_errors(tmp_path, capsys):
    assert rapid_objdump([str(tmp_path / "missing.rbin")]) == 1
    assert "rapid-objdump: error: " in capsys.readouterr().err
    junk = tmp_path / "junk.rbin"
    junk.write_bytes(b"\x7fELF" + bytes(100))
    out = tmp_path / "junk.rasm"
    assert rapid_objdump([str(junk), "-o", str(out)]) == 1
    assert capsys.readouterr().err == f"rapid-objdump: error: {junk}: not a rapid binary (it does not start with RBIN)\n"
    assert not out.exists()
