"""rapid-ref: named inputs in, named outputs out; every bad input is a clean error."""

import subprocess
import sys

import numpy as np
import pytest

from rapid_mlir.tools.rapid_ref import main
from rapid_mlir.weights import WeightStore

MODULE = """
builtin.module attributes {nn.weights = "w.npz"} {
  func.func @main(%x: tensor<2x3xf32> {nn.name = "input.1"}, %ids: tensor<4xi64>) -> (tensor<2x3xf32> {nn.name = "y"}, tensor<4x3xf32>) {
    %w = nn.weight "a" : tensor<2x3xf32>
    %s = nn.add %x, %w : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %y = nn.relu %s : tensor<2x3xf32>
    %g = nn.gather %s, %ids axis 0 : (tensor<2x3xf32>, tensor<4xi64>) -> tensor<4x3xf32>
    func.return %y, %g : tensor<2x3xf32>, tensor<4x3xf32>
  }
}
"""


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "net.mlir").write_text(MODULE)
    WeightStore({"a": np.full((2, 3), 0.5, np.float32)}).save(tmp_path / "w.npz")
    return tmp_path


def inputs(x=None, ids=None, **extra):
    return {"input.1": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3) if x is None else x,
            "ids": np.array([1, 0, -1, 1], np.int64) if ids is None else ids, **extra}


def test_named_inputs_and_outputs(workdir, capsys):
    x = inputs()
    np.savez(workdir / "in.npz", **x)
    assert main([str(workdir / "net.mlir"), "--inputs", str(workdir / "in.npz"),
                 "--outputs", str(workdir / "out.npz")]) == 0
    with np.load(workdir / "out.npz") as out:
        assert sorted(out.files) == ["output1", "y"]
        s = x["input.1"] + 0.5                      # numpy, independently of the interpreter
        np.testing.assert_array_equal(out["y"], np.maximum(s, 0))
        np.testing.assert_array_equal(out["output1"], s[[1, 0, -1, 1]])
    assert "y: 2x3 float32 sum=" in capsys.readouterr().out


@pytest.mark.parametrize("given, message", [
    (dict(inputs(), extra=np.zeros(1, np.float32)), "unexpected extra"),
    ({"ids": np.zeros(4, np.int64)}, "missing input.1"),
    (inputs(x=np.zeros((3, 2), np.float32)), "input 'input.1' is 3x2 float32 but @main expects tensor<2x3xf32>"),
    (inputs(x=np.zeros((2, 3), np.float64)), "input 'input.1' is 2x3 float64"),
    (inputs(ids=np.zeros(4, np.int32)), "input 'ids' is 4 int32 but @main expects tensor<4xi64>"),
])
def test_bad_inputs_are_reported(workdir, capsys, given, message):
    np.savez(workdir / "in.npz", **given)
    out = workdir / "out.npz"
    assert main([str(workdir / "net.mlir"), "--inputs", str(workdir / "in.npz"), "--outputs", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rapid-ref: error:") and message in err
    assert not out.exists()


def test_bad_files_are_reported(workdir, capsys):
    (workdir / "junk.npz").write_bytes(b"PK\x03\x04 broken")
    (workdir / "bad.mlir").write_text("func.func @f( {")
    cases = [
        ([str(workdir / "missing.mlir"), "--random-inputs", "0"], "missing.mlir: no such file"),
        ([str(workdir / "bad.mlir"), "--random-inputs", "0"], "bad.mlir:1:"),
        ([str(workdir / "net.mlir"), "--inputs", str(workdir / "junk.npz")], "not a readable .npz"),
        ([str(workdir / "net.mlir"), "--inputs", str(workdir / "none.npz")], "none.npz: no such file"),
        ([str(workdir / "net.mlir"), "--random-inputs", "0", "--weights", str(workdir / "junk.npz")],
         "not a readable .npz"),
        ([str(workdir / "net.mlir"), "--random-inputs", "0", "--entry", "nope"], "no function @nope"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        assert message in capsys.readouterr().err, argv


def test_weight_mismatch_is_reported_before_running(workdir, capsys):
    WeightStore({"a": np.zeros((3, 3), np.float32)}).save(workdir / "w.npz")
    assert main([str(workdir / "net.mlir"), "--random-inputs", "1"]) == 1
    assert "weight 'a' in" in capsys.readouterr().err


def test_console_script_exits_nonzero_without_traceback(workdir):
    exe = [sys.executable, "-m", "rapid_mlir.tools.rapid_ref"]
    proc = subprocess.run(exe + [str(workdir / "net.mlir"), "--inputs", str(workdir / "nothere.npz")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "rapid-ref: error:" in proc.stderr
    proc = subprocess.run(exe + ["--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--inputs" in proc.stdout


def test_runtime_value_error_is_reported(workdir, capsys):
    np.savez(workdir / "in.npz", **inputs(ids=np.array([0, 1, 2, 0], np.int64)))
    assert main([str(workdir / "net.mlir"), "--inputs", str(workdir / "in.npz"),
                 "--outputs", str(workdir / "out.npz")]) == 1
    err = capsys.readouterr().err
    assert "while running @main: gather: indices must lie in [-2, 2)" in err
    assert not (workdir / "out.npz").exists()
