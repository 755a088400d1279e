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
    names = ["input", "raise-decomposed-ops", "fold-reshapes", "fold-batch-norm", "fuse-bias-activation",
             "fold-constants", "dce", "decompose-rnn", "legalize-nn", "convert-nn-to-tile",
             "convert-tile-to-mem", "rapid-mem-allocate", "convert-mem-to-isa"]
    assert sorted(p.name for p in dump.iterdir()) == sorted(f"{i}-{n}.mlir" for i, n in enumerate(names))
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


BN_NET = """
builtin.module attributes {nn.weights = "bn.npz"} {
  func.func @main(%x: tensor<1x3x8x8xf32> {nn.name = "x"}) -> (tensor<1x8x8x8xf32> {nn.name = "y"}) {
    %w = nn.weight "conv.w" : tensor<8x3x3x3xf32>
    %g = nn.weight "bn.g" : tensor<8xf32>
    %b = nn.weight "bn.b" : tensor<8xf32>
    %m = nn.weight "bn.m" : tensor<8xf32>
    %v = nn.weight "bn.v" : tensor<8xf32>
    %c = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32>
    %n = nn.batch_norm %c, %g, %b, %m, %v epsilon 1.000000e-05 {nn.name = "bn"} : (tensor<1x8x8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
    %r = nn.relu %n {nn.name = "relu"} : tensor<1x8x8x8xf32>
    func.return %r : tensor<1x8x8x8xf32>
  }
}
"""


@pytest.fixture
def bn_net(tmp_path):
    from rapid_mlir.weights import WeightStore

    rng = np.random.default_rng(2)
    WeightStore({"conv.w": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
                 "bn.g": rng.uniform(0.5, 1.5, 8).astype(np.float32),
                 "bn.b": rng.standard_normal(8).astype(np.float32),
                 "bn.m": rng.standard_normal(8).astype(np.float32),
                 "bn.v": rng.uniform(0.5, 1.5, 8).astype(np.float32)}).save(tmp_path / "bn.npz")
    path = tmp_path / "bn.mlir"
    path.write_text(BN_NET)
    return path


def test_optimised_nn_stage_keeps_its_weights_beside_the_output(bn_net, tmp_path):
    """--emit nn -o: the batch norm and relu are folded into the conv, whose folded weight
    goes to opt.npz beside opt.mlir (which names it); both compute what the input does."""
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.weights import store_for

    out = tmp_path / "opt" / "opt.mlir"
    out.parent.mkdir()
    assert rapidc([str(bn_net), "--emit", "nn", "-o", str(out)]) == 0
    text = out.read_text()
    assert "nn.batch_norm" not in text and "nn.relu" not in text and 'nn.weights = "opt.npz"' in text
    assert "act_min 0.0" in text.replace("0.000000e+00", "0.0")
    x = {"x": np.random.default_rng(3).standard_normal((1, 3, 8, 8)).astype(np.float32)}
    want = run(read_module(bn_net), x, store_for(read_module(bn_net), bn_net))["y"]
    opt = read_module(out)
    got = run(opt, x, store_for(opt, out))["y"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    # the optimised module compiles as it is (nothing left to fold)
    assert rapidc([str(out), "-o", str(tmp_path / "opt.rbin")]) == 0


def test_no_optimize_leaves_the_graph_alone(bn_net, capsys):
    assert rapidc([str(bn_net), "--emit", "nn", "--no-optimize"]) == 0
    text = capsys.readouterr().out
    assert "nn.batch_norm" in text and "nn.relu" in text
    assert rapidc([str(bn_net), "--emit", "nn"]) == 0  # on stdout: the input's weights stay named
    text = capsys.readouterr().out
    assert "nn.batch_norm" not in text and 'nn.weights = "bn.npz"' in text
