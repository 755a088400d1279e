"""Mutation fuzzing of the tools' input files: a fixed slice finds no bug, and the inputs
that once did (one per bug fixed) now give a clean one-line error."""

import io
import struct
import time
import zipfile

import numpy as np
import pytest

from rapid_mlir.fuzz import mutate
from rapid_mlir.tools.npz import read_npz
from rapid_mlir.tools.rapid_as import main as rapid_as
from rapid_mlir.tools.rapid_opt import main as rapid_opt
from rapid_mlir.tools.rapid_ref import main as rapid_ref
from rapid_mlir.tools.rapidc import main as rapidc

CASES_PER_TARGET = 250


@pytest.fixture(scope="module")
def fuzz_work(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    return work, mutate.build_targets(work)


def test_slice_has_no_bugs(fuzz_work):
    work, targets = fuzz_work
    report = mutate.fuzz(targets, work, cases=CASES_PER_TARGET, seed=0)
    assert {name: sum(c.values()) for name, c in report.counts.items()} == {
        t.name: CASES_PER_TARGET for t in targets}
    assert sum(c["ok"] for c in report.counts.values()) > 0  # the mutants are not all rejected
    found = [f"{name} case {i}: {o.reason}\n{o.stderr}{o.detail}" for name, i, _, o in report.bugs]
    assert not found, "\n".join(found)


def test_mutators_are_deterministic(fuzz_work):
    _, targets = fuzz_work
    for t in targets:
        rng_a, rng_b = mutate.random.Random("x"), mutate.random.Random("x")
        seed = t.seeds[0][1]
        assert t.mutate(seed, rng_a) == t.mutate(seed, rng_b)


def test_rbin_mutants_with_a_fixed_checksum_reach_the_header_checks(fuzz_work):
    _, targets = fuzz_work
    rbin = next(t for t in targets if t.name == "objdump").seeds[0][1]
    assert mutate.fix_checksum(rbin) == rbin
    _, header, payload = mutate._split_rbin(rbin)
    assert header["machine"]["name"] == "rapid-1c" and len(payload) == header["payload_length"]


def test_classify():
    assert mutate.classify("t", 0, "", "", "", 0.1, []).kind == "ok"
    assert mutate.classify("t", 1, "", "t: error: bad\n  in: x\n", "", 0.1, []).kind == "error"
    bugs = [mutate.classify("t", 1, "", "t: internal error (KeyError): 'x'", "", 0.1, []),
            mutate.classify("t", None, "", "", "Traceback...\nIndexError: x", 0.1, []),
            mutate.classify("t", 1, "", "t: error: bad", "", 0.1, ["out.rbin"]),
            mutate.classify("t", 1, "", "t: error: a\nt: error: b", "", 0.1, []),
            mutate.classify("t", 0, "", "", "", 99.0, [])]
    assert [o.kind for o in bugs] == ["bug"] * 5


# Regressions: the smallest inputs of the bugs the fuzzer found ---------------------------


def _run(capsys, tool, argv):
    code = tool(argv)
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    return code, err


@pytest.mark.parametrize("tool", [rapid_opt, rapidc])
def test_unterminated_string_in_a_long_line_fails_fast(tmp_path, capsys, tool):
    # xDSL's string-literal regex backtracked exponentially: minutes for this line.
    src = tmp_path / "s.mlir"
    src.write_text('func.func @f() attributes {a = [0.5, "' + ", 0.25" * 30 + "]} {\n  func.return\n}\n")
    start = time.perf_counter()
    code, err = _run(capsys, tool, [str(src), "-o", str(tmp_path / "out")])
    assert time.perf_counter() - start < 5
    assert code == 1 and "End of file reached before closing string literal" in err
    assert str(src) in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("tool", [rapid_opt, rapidc])
@pytest.mark.parametrize("text", [
    # an integer array element that does not fit i64 (struct.error escaped the parser)
    ('func.func @f(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {\n'
    '  %y = nn.max_pool2d %x kernel [1, 1] strides [1, 1] pads [0, 18446744073709551616, 0, 0] '
    'dilations [1, 1] : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>\n  func.return %y : tensor<1x1x4x4xf32>\n}\n'),
    # an f32 attribute beyond the largest f32 (OverflowError escaped the parser)
    'func.func @f() {\n  "test.op"() {v = 1.0e100 : f32} : () -> ()\n  func.return\n}\n',
])
def test_literal_out_of_range_is_a_parse_error(tmp_path, capsys, tool, text):
    src = tmp_path / "r.mlir"
    src.write_text(text)
    code, err = _run(capsys, tool, [str(src), "-o", str(tmp_path / "out")])
    assert "value out of range for its type" in err
    assert code == 1 and err.startswith(f"{'rapid-opt' if tool is rapid_opt else 'rapidc'}: error: {src}:")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tool", [rapid_opt, rapidc])
def test_an_unclosed_complex_literal_is_a_parse_error(tmp_path, capsys, tool):
    # '(' in a dense literal starts a complex number; a third element hit an assert in
    # xDSL's parser (an internal error) before xdsl_fixes made it a parse error.
    src = tmp_path / "c.mlir"
    src.write_text('func.func @f() -> tensor<4xf32> {\n'
                   '  %c = nn.constant dense<[0.5, (0.25, 0.125, 1.0]> : tensor<4xf32>\n'
                   '  func.return %c : tensor<4xf32>\n}\n')
    code, err = _run(capsys, tool, [str(src), "-o", str(tmp_path / "out")])
    assert code == 1 and err.startswith(f"{'rapid-opt' if tool is rapid_opt else 'rapidc'}: error: {src}:2:")
    assert "expected ')', found ','" in err and "internal error" not in err
    assert not (tmp_path / "out").exists()


def _npz_with_unknown_compression(path):
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((2, 2), np.float32))
    data = bytearray(buf.getvalue())
    # The compression-method field of the local header (offset 8) and of the central
    # directory entry (offset 10): 99 is no method zipfile knows.
    struct.pack_into("<H", data, 8, 99)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 10, 99)
    path.write_bytes(bytes(data))
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(path).read("x.npy")


def test_npz_with_an_unknown_compression_method(tmp_path, capsys):
    bad = tmp_path / "in.npz"
    _npz_with_unknown_compression(bad)
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        read_npz(bad)
    src = tmp_path / "n.mlir"
    src.write_text('func.func @main(%x: tensor<2x2xf32> {nn.name = "x"}) -> tensor<2x2xf32> {\n'
                   '  %y = nn.relu %x : tensor<2x2xf32>\n  func.return %y : tensor<2x2xf32>\n}\n')
    code, err = _run(capsys, rapid_ref, [str(src), "--inputs", str(bad), "--outputs", str(tmp_path / "o.npz")])
    assert code == 1 and f"{bad}: not a readable .npz archive" in err
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("tool, name, suffix", [
    (rapid_opt, "rapid-opt", ".mlir"), (rapidc, "rapidc", ".mlir"), (rapid_as, "rapid-as", ".rasm")])
def test_a_file_that_is_not_utf8_is_named(tmp_path, capsys, tool, name, suffix):
    # rapid-opt and rapid-as printed only Python's "'utf-8' codec can't decode byte ...".
    src = tmp_path / ("bad" + suffix)
    src.write_bytes(b"func.func @f() {\n  func.return \xff\n}\n")
    code, err = _run(capsys, tool, [str(src), "-o", str(tmp_path / "out")])
    assert code == 1 and err == f"{name}: error: {src}: not a UTF-8 text file (byte 0xff at offset 31)\n"
    assert not (tmp_path / "out").exists()


def test_ir_mutators_reach_past_the_parser():
    """The IR-aware edits (attribute lists, tensor types, operands, op names) keep a
    .mlir file parseable far more often than byte- and line-level damage, so their
    mutants reach the verifiers and the passes."""
    import random

    from xdsl.parser import Parser

    from rapid_mlir.dialects import make_context

    src = (mutate.ROOT / "examples" / "small_cnn.mlir").read_bytes()

    def parsed(fn) -> int:
        n = 0
        for i in range(150):
            text = fn(src, random.Random(i)).decode("utf-8", "replace")
            try:
                Parser(make_context(), text).parse_module()
            except Exception:  # noqa: BLE001 - counting what the parser accepts
                continue
            n += 1
        return n

    ir = parsed(lambda d, r: r.choice(mutate.IR_MUTATORS)(d, r))
    assert ir >= 3 * parsed(mutate.mutate_text) and ir >= 40


# ONNX models damaged by the fuzzer (the `onnx-rapidc` and `onnx-ref` targets) ------------


def _onnx_model(nodes, inputs, outputs, initializers=(), opset=17):
    import onnx.helper as oh

    graph = oh.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])


def _onnx_cases():
    import onnx.helper as oh
    import onnx.numpy_helper as onh
    from onnx import TensorProto

    x = oh.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = oh.make_tensor_value_info("y", TensorProto.FLOAT, None)
    relu = _onnx_model([oh.make_node("Relu", ["x"], ["y"], name="r")], [x], [y])
    relu.graph.node[0].name = "r\udc80".encode("utf-8", "surrogateescape").decode("latin-1")
    raw = relu.SerializeToString().replace("r\xc2\x80".encode("latin-1"), b"r\xff\xfe")
    pow_one_input = _onnx_model([oh.make_node("Pow", ["x"], ["y"], name="p")], [x], [y])
    float_axis = _onnx_model([oh.make_node("Softmax", ["x"], ["y"], name="s", axis=1.5)], [x], [y])
    gru = _onnx_model(
        [oh.make_node("GRU", ["s", "w", "r"], ["", "h"], name="g", hidden_size=2)],
        [oh.make_tensor_value_info("s", TensorProto.FLOAT, [1, 1, 3])],
        [oh.make_tensor_value_info("h", TensorProto.FLOAT, None)],
        [onh.from_array(np.zeros((1, 6, 3), np.float32), "w"), onh.from_array(np.zeros((), np.float32), "r")])
    huge = _onnx_model([oh.make_node("Relu", ["x"], ["y"], name="r")],
                       [oh.make_tensor_value_info("x", TensorProto.FLOAT, [2**31, 2])], [y])
    return {
        # A name that is not UTF-8 came back from protobuf as bytes (TypeError in a regex).
        "name not utf-8": (raw, "not valid UTF-8 text"),
        # A missing input read as a constant (IndexError).
        "pow without exponent": (pow_one_input.SerializeToString(), "node 'p' (Pow, opset 17): the exponent"),
        # An int attribute given as a float (TypeError in a shape function).
        "float axis": (float_axis.SerializeToString(), "attribute 'axis' must be an int"),
        # A recurrence weight of rank 0 (IndexError in the handler).
        "rank-0 recurrence weight": (gru.SerializeToString(), "node 'g' (GRU, opset 17)"),
        # 2^32 random inputs for rapid-ref: over 10 s before it gave up.
        "huge random input": (huge.SerializeToString(), "random inputs"),
    }


@pytest.mark.parametrize("case", ["name not utf-8", "pow without exponent", "float axis",
                                  "rank-0 recurrence weight", "huge random input"])
@pytest.mark.parametrize("tool", ["rapidc", "rapid-ref"])
def test_damaged_onnx_models_are_clean_errors(tmp_path, capsys, case, tool):
    data, message = _onnx_cases()[case]
    model = tmp_path / "m.onnx"
    model.write_bytes(data)
    out = tmp_path / ("out.rbin" if tool == "rapidc" else "out.npz")
    argv = [str(model), "-o", str(out)] if tool == "rapidc" else [str(model), "--random-inputs", "0",
                                                                 "--outputs", str(out)]
    if case == "huge random input" and tool == "rapidc":
        message = ""  # rapidc draws no inputs: any clean error (or a binary) will do
    start = time.perf_counter()
    code, err = _run(capsys, rapidc if tool == "rapidc" else rapid_ref, argv)
    assert time.perf_counter() - start < 10
    if code == 0:
        assert not message
        return
    assert code == 1 and err.startswith(f"{tool}: error:") and message in err, err
    assert not out.exists()


def test_a_run_over_the_time_limit_once_is_tried_again(fuzz_work, monkeypatch):
    """A 64 MB output written on a busy machine passed 10 s three times in a 105,000-input
    campaign (1 to 3 s alone): such runs get a second try with a longer limit; only a run
    over that too is a hang."""
    work, targets = fuzz_work
    target = next(t for t in targets if t.name == "rapid-run")
    calls = []

    def slow_then_fine(tool, argv, time_limit=mutate.TIME_LIMIT):
        calls.append(time_limit)
        if len(calls) == 1:
            return None, "", "", "Traceback...\nHang: over 10 s", time_limit + 1
        return 0, "", "", "", 12.0

    monkeypatch.setattr(mutate, "run_tool", slow_then_fine)
    outcome = mutate.run_input(target, target.seeds[0][1], work)
    assert outcome.kind == "ok" and outcome.slow == 12.0 and calls == [mutate.TIME_LIMIT, mutate.SLOW_LIMIT]

    calls.clear()
    monkeypatch.setattr(mutate, "run_tool", lambda tool, argv, time_limit=mutate.TIME_LIMIT: (
        calls.append(time_limit) or (None, "", "", "Traceback...\nHang: over", time_limit + 1)))
    outcome = mutate.run_input(target, target.seeds[0][1], work)
    assert outcome.kind == "bug" and "took over" in outcome.reason and len(calls) == 2


def test_an_lrn_window_far_wider_than_the_channels_is_cheap(tmp_path):
    """LRN of size 2^31 (a damaged attribute) took a lowering step per window position,
    and the reference allocated 2^31 channels of padding: both now clip the window to the
    channels. A window of 9 over 3 channels still matches onnxruntime."""
    import onnx.helper as oh
    from onnx import TensorProto

    from rapid_mlir.frontend.onnx import import_onnx
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.onnx_export import run_onnxruntime
    from rapid_mlir.runtime import load

    def model(size):
        return _onnx_model([oh.make_node("LRN", ["x"], ["y"], name="n", size=size, alpha=0.1, beta=0.75, bias=1.0)],
                           [oh.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                           [oh.make_tensor_value_info("y", TensorProto.FLOAT, None)])

    x = {"x": np.random.default_rng(0).uniform(-2, 2, (1, 3, 4, 4)).astype(np.float32)}
    want = run_onnxruntime(model(9), x)["y"]
    module, store = import_onnx(model(9))
    np.testing.assert_allclose(run(module.clone(), x, store)["y"], want, rtol=1e-5, atol=1e-6)
    got = load(compile_module(module, "rapid-1c")).run(x).outputs["y"]
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2 * np.abs(want).max())
    start = time.perf_counter()
    module, store = import_onnx(model(2**31))
    # Every channel's window covers all three channels (ONNX's formula, in NumPy).
    total = (x["x"].astype(np.float64) ** 2).sum(axis=1, keepdims=True)
    wide = x["x"] / (1.0 + 0.1 / 2**31 * total) ** 0.75
    np.testing.assert_allclose(run(module.clone(), x, store)["y"], wide, rtol=1e-5, atol=1e-6)
    compile_module(module, "rapid-1c")
    assert time.perf_counter() - start < 10
