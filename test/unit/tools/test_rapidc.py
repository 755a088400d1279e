"""rapidc: every --emit stage, IR dumps and timings, and clean errors that write nothing."""

import numpy as np
import pytest

from rapid_mlir.tools.rapid_run import main as rapid_run
from rapid_mlir.tools.rapidc import main as rapidc

MM = """
func.func @main(%a: tensor<16x32xf32> {nn.name = "A"}, %b: tensor<32x16xf32> {nn.name = "B"}) -> (tensor<16x16xf32> {nn.name = "C"}) {
  %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<16x16xf32>
  func.return %y : tensor<16x16xf32>
}
"""


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "mm.mlir"
    path.write_text(MM)
    return path


def test_binary_runs_by_tensor_name(src, tmp_path, capsys):
    out = tmp_path / "mm.rbin"
    assert rapidc([str(src), "-o", str(out), "--machine", "rapid-1c"]) == 0
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((16, 32)).astype(np.float32), rng.standard_normal((32, 16)).astype(np.float32)
    np.savez(tmp_path / "in.npz", A=a, B=b)
    assert rapid_run([str(out), "--inputs", str(tmp_path / "in.npz"), "--outputs", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as res:
        np.testing.assert_allclose(res["C"], a @ b, rtol=1e-2, atol=5e-2)   # f16 inputs on the device


@pytest.mark.parametrize("stage, marker", [("nn", "nn.matmul"), ("tile", "rapid_tile.kernel"),
                                            ("mem", "rapid_mem.kernel"), ("isa", "rapid_isa.program"),
                                            ("asm", ".machine rapid-1c")])
def test_every_stage(src, capsys, stage, marker):
    assert rapidc([str(src), "--emit", stage, "--machine", "rapid-1c"]) == 0
    assert marker in capsys.readouterr().out


def test_dumps_and_timings(src, tmp_path, capsys):
    dump = tmp_path / "ir"
    assert rapidc([str(src), "--emit", "asm", "--machine", "rapid-1c", "--ir-dump-dir", str(dump),
                   "--time-passes", "--print-ir-after-all"]) == 0
    assert sorted(p.name for p in dump.iterdir()) == [
        "0-input.mlir", "1-decompose-rnn.mlir", "2-legalize-nn.mlir", "3-convert-nn-to-tile.mlir",
        "4-convert-tile-to-mem.mlir", "5-rapid-mem-allocate.mlir", "6-convert-mem-to-isa.mlir"]
    err = capsys.readouterr().err
    assert "// ----- IR after convert-mem-to-isa -----" in err and "total" in err


@pytest.mark.parametrize("argv, message", [
    (["--emit", "bin"], "give an output file with -o"),
    (["--machine", "rapid-9c"], "rapid-9c"),
    (["--mapping", "nothere.json"], "is neither 'fixed' nor an existing JSON file"),
])
def test_option_errors(src, capsys, argv, message):
    assert rapidc([str(src), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rapidc: error:") and message in err


def test_a_failing_pass_names_itself_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "relu.mlir"
    src.write_text(MM.replace(  # an op that neither the device nor the host can run
        "func.return %y", '%r = "test.op"(%y) : (tensor<16x16xf32>) -> tensor<16x16xf32>\n  func.return %r'))
    out = tmp_path / "x.rbin"
    assert rapidc([str(src), "-o", str(out)]) == 1
    assert "pass 'convert-tile-to-mem' failed" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "x.rbin.tmp").exists()


def test_weights_come_from_the_modules_weight_file(tmp_path, capsys):
    from rapid_mlir.weights import WeightStore

    w = np.random.default_rng(1).standard_normal((32, 16)).astype(np.float32)
    WeightStore({"b": w}).save(tmp_path / "net.npz")
    src = tmp_path / "net.mlir"
    src.write_text("""
builtin.module attributes {nn.weights = "net.npz"} {
  func.func @main(%a: tensor<16x32xf32> {nn.name = "A"}) -> (tensor<16x16xf32> {nn.name = "C"}) {
    %b = nn.weight "b" : tensor<32x16xf32>
    %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<16x16xf32>
    func.return %y : tensor<16x16xf32>
  }
}""")
    out = tmp_path / "net.rbin"
    assert rapidc([str(src), "-o", str(out), "--machine", "rapid-1c"]) == 0
    a = np.random.default_rng(2).standard_normal((16, 32)).astype(np.float32)
    np.savez(tmp_path / "in.npz", A=a)
    assert rapid_run([str(out), "--inputs", str(tmp_path / "in.npz"), "--outputs", str(tmp_path / "o.npz")]) == 0
    with np.load(tmp_path / "o.npz") as res:
        np.testing.assert_allclose(res["C"], a @ w, rtol=1e-2, atol=5e-2)
