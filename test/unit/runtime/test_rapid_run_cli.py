"""rapid-run: a binary in, outputs, statistics and traces out; every failure a one-line
error with exit code 1 and no output files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rapid_mlir.backend.rbin import write_rbin
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, dram, lx
from rapid_mlir.machine import PRESETS
from rapid_mlir.tools.rapid_run import main

M = PRESETS["rapid-1c"]


def relu_program(machine=M, deadlock=False):
    b = ProgramBuilder(machine)
    b.input("x", F16, (4, 8), 0)
    b.output("y", F32, (4, 8), 0x100)
    d = b.stream(0, "dma0")
    d.dma(lx(0, F16, (4, 8)), dram(0, F16, (4, 8))).signal(0).halt()
    s = b.stream(0, "sfu0")
    s.wait(0).emit("sfu.relu", dst=lx(0x100, F32, (4, 8)), src=lx(0, F16, (4, 8))).signal(1)
    if deadlock:
        s.wait(9)
    s.halt()
    b.stream(0, "dma1").wait(1).dma(dram(0x100, F32, (4, 8)), lx(0x100, F32, (4, 8))).halt()
    return b.build()


@pytest.fixture
def prog(tmp_path):
    path = tmp_path / "relu.rbin"
    path.write_bytes(write_rbin(relu_program()))
    return path


def test_happy_path_writes_everything(prog, tmp_path, capsys):
    x = np.linspace(-2, 2, 32, dtype=np.float32).reshape(4, 8)
    np.savez(tmp_path / "in.npz", x=x)
    out, stats, trace, text = (tmp_path / n for n in ("out.npz", "s.json", "t.json", "t.txt"))
    code = main([str(prog), "--inputs", str(tmp_path / "in.npz"), "--outputs", str(out), "--stats", str(stats),
                 "--trace", str(trace), "--trace-text", str(text), "--machine", "rapid-1c"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "ran on rapid-1c" in printed and "seed" not in printed
    assert "cycles: " in printed and "us at 1.6 GHz" in printed and "MPE utilization: 0.00%" in printed
    assert "y: 4x8 float32 sum=" in printed
    with np.load(out) as data:
        np.testing.assert_array_equal(data["y"], np.maximum(x.astype(np.float16).astype(np.float32), 0))
    s = json.loads(stats.read_text())
    assert {"cycles", "mpe_utilization", "instructions", "macs", "streams", "bytes"} <= set(s)
    assert s["instructions"] == 10 and s["bytes"]["dram_to_lx"] == 64
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e["ph"] == "X" and e["name"] == "sfu.relu" for e in events)
    assert len(text.read_text().splitlines()) == 1 + 10
    assert not list(tmp_path.glob("*.tmp*"))


def test_random_inputs_print_the_seed(prog, capsys):
    assert main([str(prog), "--seed", "42", "--no-race-check"]) == 0
    assert "inputs: random (standard normal), seed 42" in capsys.readouterr().out
    assert main([str(prog)]) == 0
    assert "seed 0" in capsys.readouterr().out


def fails(args, capsys, message):
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("rapid-run: error: ") and message in err and "Traceback" not in err
    return err


def test_errors_exit_1_and_write_nothing(prog, tmp_path, capsys):
    out, stats = tmp_path / "o.npz", tmp_path / "s.json"
    fails([str(tmp_path / "none.rbin")], capsys, "none.rbin: no such file")
    fails([str(prog), "--machine", "rapid-4c"], capsys, "built for machine 'rapid-1c'")
    fails([str(prog), "--machine", "rapid-9c"], capsys, "unknown machine 'rapid-9c'")
    np.savez(tmp_path / "bad.npz", x=np.zeros((8, 4), np.float32))
    fails([str(prog), "--inputs", str(tmp_path / "bad.npz"), "--outputs", str(out)], capsys,
          "input 'x' has shape [8, 4] but the program expects f16 [4, 8]")
    (tmp_path / "junk.rbin").write_bytes(b"not a binary")
    fails([str(tmp_path / "junk.rbin")], capsys, "junk.rbin: ")
    dead = tmp_path / "dead.rbin"
    dead.write_bytes(write_rbin(relu_program(deadlock=True)))
    err = fails([str(dead), "--outputs", str(out), "--stats", str(stats)], capsys, "deadlock at cycle")
    assert "core 0 stream sfu0 pc 3 (wait s9): waits for semaphore s9 on core 0 (value 0)" in err
    assert not out.exists() and not stats.exists()


def test_console_entry_runs_as_a_module(prog):
    done = subprocess.run([sys.executable, "-m", "rapid_mlir.tools.rapid_run", str(prog), "--seed", "3"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "seed 3" in done.stdout
