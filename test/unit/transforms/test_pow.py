"""nn.pow end to end: ONNX `Pow(x, c)` with a constant exponent imported, run by the
reference interpreter and compiled and emulated, against onnxruntime.

Each model is one ONNX node `Pow(x, c)` (c an initializer). Inputs: uniform in
[0.5, 2] for a non-integer exponent (a negative base gives NaN on every side), and in
[-2, -0.5] or [0.5, 2] at random for an integer one (a negative base is finite there):
the results then stay inside fp16's range with a useful precision.

- the reference interpreter vs onnxruntime: both in float32, so within 1e-5 relative;
- compiled for rapid-1c and rapid-4c and emulated: the device stores the input and the
  result in fp16 and computes in fp32 (log, scale, exp; or multiplies and recip), so
  within 2e-2 of the output's scale (as test/unit/models/test_zoo.py);
- the SFU instructions chosen (`sfu_layers.power_chain`), and an integer exponent beyond
  +-4 on the host.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rapid_mlir.dialects import nn  # noqa: E402
from rapid_mlir.frontend.onnx import import_onnx  # noqa: E402
from rapid_mlir.reference.interpreter import run  # noqa: E402
from rapid_mlir.reference.onnx_export import run_onnxruntime, to_onnx  # noqa: E402
from rapid_mlir.transforms.sfu_layers import MAX_INTEGER_POWER, power_chain  # noqa: E402

SHAPE = (2, 3, 5, 7)
REFERENCE_RTOL = 1e-5
DEVICE_TOLERANCE = 2e-2
EXPONENTS = [0.75, 1.5, -0.5, 3.0, -1.0]


def pow_model(exponent, shape=SHAPE, exponent_shape=()):
    """One `Pow(x, c)` node, c a float32 initializer of `exponent_shape` filled with the exponent."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    c = numpy_helper.from_array(np.full(exponent_shape, exponent, np.float32), "c")
    node = helper.make_node("Pow", ["x", "c"], ["y"], name="pow")
    graph = helper.make_graph([node], "g", [x], [y], [c])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def inputs(exponent, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, shape)
    if exponent == int(exponent):
        x *= rng.choice([-1.0, 1.0], shape)
    return {"x": x.astype(np.float32)}


def imported(model):
    module, store = import_onnx(model, weights_file="w.npz")
    module.verify()
    return module, store


def nn_ops(module):
    return [op for op in module.walk() if op.name.startswith("nn.") and not isinstance(op, nn.ConstantOp)]


def relative_error(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("exponent", EXPONENTS)
def test_import_and_reference_match_onnxruntime(exponent):
    model = pow_model(exponent)
    module, store = imported(model)
    (op,) = nn_ops(module)
    assert isinstance(op, nn.PowOp) and op.exponent.value.data == exponent
    feeds = inputs(exponent)
    want = run_onnxruntime(model, feeds)["y"]
    assert np.isfinite(want).all()
    np.testing.assert_allclose(run(module, feeds, store)["y"], want, rtol=REFERENCE_RTOL, atol=0)
    # The exporter writes it back as Pow with a constant.
    np.testing.assert_allclose(run_onnxruntime(to_onnx(module, store), feeds)["y"], want, rtol=REFERENCE_RTOL)


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c"])
@pytest.mark.parametrize("exponent", EXPONENTS)
def test_compiled_and_emulated_match_onnxruntime(exponent, machine, tmp_path):
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    model = pow_model(exponent)
    module, store = imported(model)
    store.save(tmp_path / "w.npz")
    program = compile_module(module, machine, weights=str(tmp_path / "w.npz"))
    assert not program.host_ops
    mnemonics = {i.mnemonic for instrs in program.streams.values() for i in instrs}
    if exponent == int(exponent):
        assert "sfu.log" not in mnemonics and ("sfu.mul" in mnemonics or "sfu.recip" in mnemonics)
    else:
        assert {"sfu.log", "sfu.scale", "sfu.exp"} <= mnemonics
    feeds = inputs(exponent, seed=1)
    got = load(program).run(feeds, check_races=True).outputs["y"]
    assert relative_error(got, run_onnxruntime(model, feeds)["y"]) <= DEVICE_TOLERANCE


@pytest.mark.parametrize("exponent", [5.0, -6.0])
def test_large_integer_exponent_runs_on_the_host(exponent, tmp_path):
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    assert power_chain(exponent) is None and abs(exponent) > MAX_INTEGER_POWER
    model = pow_model(exponent, shape=(3, 8))
    module, store = imported(model)
    program = compile_module(module, "rapid-4c")
    assert [h.layer for h in program.host_ops] == ["pow"]
    feeds = {"x": inputs(exponent, shape=(3, 8))["x"] * np.float32(0.8)}  # |x^-6| < 65504 in fp16
    got = load(program).run(feeds, check_races=True).outputs["y"]
    assert relative_error(got, run_onnxruntime(model, feeds)["y"]) <= DEVICE_TOLERANCE


def test_special_exponents_keep_their_ops_and_an_all_equal_tensor_reads_as_a_scalar():
    kinds = {e: [op.name for op in nn_ops(imported(pow_model(e))[0])] for e in (2.0, 0.5, 1.0)}
    assert kinds == {2.0: ["nn.mul"], 0.5: ["nn.sqrt"], 1.0: []}
    module, _ = imported(pow_model(-0.5, exponent_shape=(1, 7)))
    (op,) = nn_ops(module)
    assert isinstance(op, nn.PowOp) and op.exponent.value.data == -0.5


def test_a_computed_exponent_is_an_error_naming_the_node():
    from rapid_mlir.frontend.onnx import OnnxImportError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    e = helper.make_tensor_value_info("e", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Pow", ["x", "e"], ["y"], name="p")], "g", [x, e], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxImportError, match="node 'p' \\(Pow, opset 17\\): the exponent .* must be a constant"):
        import_onnx(model)


@pytest.mark.parametrize("exponent", [0.75, -0.5, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0, 0.0, 1.0, 0.5])
def test_power_chain_computes_numpy_power(exponent):
    """The chain, run in numpy float32 (the SFU's arithmetic, without the f16 rounding),
    on negative, zero and positive bases."""
    x = np.array([-2.0, -1.5, -0.5, 0.0, 0.25, 1.0, 1.75, 3.0], np.float32)
    ops = {"copy": lambda a: a, "recip": lambda a: 1 / a, "sqrt": np.sqrt, "log": np.log, "exp": np.exp,
           "mul": lambda a, b: a * b, "scale": lambda a, m, k: a * np.float32(m) + np.float32(k)}
    buffers = {"x": x}
    with np.errstate(all="ignore"):
        for kind, dst, srcs, imms in power_chain(exponent):
            buffers[dst] = ops[kind](*(buffers[s] for s in srcs), *imms).astype(np.float32)
        want = np.power(x, np.float32(exponent))
    np.testing.assert_allclose(buffers["out"], want, rtol=1e-6)


@pytest.mark.parametrize("double_buffer", [True, False])
@pytest.mark.parametrize("exponent", [0.75, -3.0])
def test_loops_and_double_buffering_share_the_temp_tile(exponent, double_buffer, tmp_path):
    """A pinned mapping of many LX steps (two slots with double buffering) on one f32 temp
    tile: race checks on, against the reference on the f16-rounded inputs."""
    import json

    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    model = pow_model(exponent, shape=(3, 40, 33))
    module, _ = imported(model)
    mapping = {"pow": {"cores": {"d0": 1}, "order": ["d0", "d1", "d2"], "lx": {"d0": 1, "d1": 3, "d2": 33},
                       "double_buffer": double_buffer}}
    (tmp_path / "layers.json").write_text(json.dumps(mapping))
    program = compile_module(module.clone(), "rapid-1c", str(tmp_path / "layers.json"))
    assert any(i.mnemonic == "loop" for instrs in program.streams.values() for i in instrs)
    result = load(program).run(inputs(exponent, shape=(3, 40, 33), seed=2), check_races=True)
    want = run(module, result.inputs)["y"]  # the inputs as the device holds them (f16)
    np.testing.assert_allclose(result.outputs["y"], want, rtol=5e-3, atol=1e-3 * float(np.abs(want).max()))
