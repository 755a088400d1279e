"""decompose-rnn: LSTM and GRU layers as per-time-step gemms and elementwise ops.

Numerics at the nn level: for every direction, with and without bias and initial states
and both GRU variants, the reference interpreter on the decomposed module matches it on
the original (whose LSTM/GRU is checked against onnxruntime elsewhere). The maths is the
same float32 in another order (the biases summed before the products, the GRU update as
n + z (h - n)), so rtol = atol = 1e-5.

End to end: a small LSTM and a bidirectional GRU compiled for every preset and run on the
emulator (race checks on) against the interpreter on the original module; every op runs
on the device. The device stores every intermediate in fp16 (a relative error of 2^-11
per store) over a chain of about ten ops per step and two or three steps, on values of
magnitude about 1 (h = o tanh(c) and a GRU's h, a mix of tanh and the previous h, within
[-1, 1]; |c| grows by at most 1 per step): atol = 5e-3 (measured: below 6e-4), while a
wrong gate order, direction or time index is off by about 0.1 or more.
"""

import numpy as np
import pytest
from xdsl.dialects.builtin import StringAttr, UnitAttr
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import make_context, nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import parse_module
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load
from rapid_mlir.transforms import all_passes
from rapid_mlir.transforms.convert_nn_to_tile import _device_matrix_product
from rapid_mlir.transforms.decompose_rnn import DecomposeRnnPass

DIRECTIONS = ["forward", "reverse", "bidirectional"]
PRESETS = ["rapid-1c", "rapid-4c", "rapid-32c"]


def rnn_graph(kind, direction="forward", bias=True, initial="", lbr=False, outputs=(0, 1, 2), seq=3,
              batch=2, inp=4, hidden=3, as_weights=False):
    """One nn.lstm / nn.gru layer named "rnn"; `initial` names the initial states given
    ("h", "c", "hc"); W, R, B are inputs, or weights with `as_weights`."""
    g = GraphBuilder(inline_limit=4)
    dirs = 2 if direction == "bidirectional" else 1
    gates = 4 if kind == "lstm" else 3
    rng = np.random.default_rng(7)

    def param(name, shape):
        if as_weights:
            return g.constant(name, rng.normal(0, 0.5, shape))
        return g.input(name, shape)

    x = g.input("x", [seq, batch, inp])
    w = param("w", (dirs, gates * hidden, inp))
    r = param("r", (dirs, gates * hidden, hidden))
    b = param("b", (dirs, 2 * gates * hidden)) if bias else None
    h0 = g.input("h0", [dirs, batch, hidden]) if "h" in initial else None
    if kind == "lstm":
        c0 = g.input("c0", [dirs, batch, hidden]) if "c" in initial else None
        op = nn.LstmOp(x, w, r, b, h0, c0, hidden_size=hidden, direction=direction)
    else:
        op = nn.GruOp(x, w, r, b, h0, hidden_size=hidden, direction=direction, linear_before_reset=lbr)
    results = g.add_multi(op, "rnn")
    for i in outputs:
        g.output(("y", "y_h", "y_c")[i], results[i])
    return g.finish("w.npz")


def decompose(module, **options):
    DecomposeRnnPass(**options).apply(make_context(), module)
    module.verify()
    return module


def ops_of(module):
    return [op for op in module.walk() if op.name.startswith("nn.")]


def assert_same_as_original(module, store=None, seed=3):
    inputs = random_inputs(signature(find_entry(module)), seed)
    expected = run(module.clone(), inputs, store)
    decompose(module)
    assert not [op for op in ops_of(module) if isinstance(op, nn.LstmOp | nn.GruOp)]
    got = run(module, inputs, store)
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        np.testing.assert_allclose(got[key], want, rtol=1e-5, atol=1e-5, err_msg=key)


# Numerics at the nn level ------------------------------------------------------------------


@pytest.mark.parametrize("initial", ["", "h", "c", "hc"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_lstm_matches_the_layer(direction, bias, initial):
    module, _ = rnn_graph("lstm", direction, bias, initial)
    assert_same_as_original(module)


@pytest.mark.parametrize("lbr", [False, True])
@pytest.mark.parametrize("initial", ["", "h"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_gru_matches_the_layer(direction, bias, initial, lbr):
    module, _ = rnn_graph("gru", direction, bias, initial, lbr=lbr, outputs=(0, 1))
    assert_same_as_original(module)


@pytest.mark.parametrize("kind, outputs", [("lstm", (2,)), ("lstm", (1, 0)), ("lstm", (0,)),
                                           ("gru", (1,)), ("gru", (0,))])
@pytest.mark.parametrize("seq, direction", [(1, "forward"), (1, "bidirectional"), (4, "reverse")])
def test_any_subset_of_results(kind, outputs, seq, direction):
    """Only the results used are built; one step (Y and Y_h the same h) included."""
    module, _ = rnn_graph(kind, direction, initial="h", outputs=outputs, seq=seq, inp=5)
    assert_same_as_original(module)


def test_f16_layer():
    module, _ = rnn_graph("gru", "forward", initial="h", outputs=(0, 1))
    module = parse_module(str(module).replace("f32", "f16"))
    inputs = {k: v.astype(np.float16) for k, v in random_inputs(signature(find_entry(module)), 1).items()}
    expected = run(module.clone(), inputs)
    got = run(decompose(module), inputs)
    for key, want in expected.items():
        assert got[key].dtype == np.float16
        np.testing.assert_allclose(got[key], want, rtol=0, atol=4e-3, err_msg=key)


# Structure ---------------------------------------------------------------------------------


def step_ops(module, step_prefix):
    return [op for op in ops_of(module) if op.attributes["nn.name"].data.startswith(step_prefix)]


@pytest.mark.parametrize("kind, lbr", [("lstm", False), ("gru", False), ("gru", True)])
def test_op_count_per_step_and_names(kind, lbr):
    module, _ = rnn_graph(kind, "bidirectional", initial="hc" if kind == "lstm" else "h", lbr=lbr,
                          outputs=(0, 1), seq=4)
    decompose(module)
    names = [op.attributes["nn.name"].data for op in ops_of(module)]
    assert len(names) == len(set(names)) and all(n.startswith("rnn.") for n in names)
    for tag in ("fwd", "rev"):
        for t in range(4):
            assert len(step_ops(module, f"rnn.{tag}.t{t}.")) == 11
    assert len(step_ops(module, "rnn.fwd.t")) + len(step_ops(module, "rnn.rev.t")) == 88
    # Once per layer: the X view; reshape + split of W, R, B, h0 (and c0); per direction
    # the bias adds (LSTM 1, GRU 2 or 1 with linear_before_reset), the input projections
    # and their splits into steps (LSTM 1 + 1, GRU 2 + 2); concat + view of Y and of Y_h.
    per_direction = 3 if kind == "lstm" else (5 if lbr else 6)
    assert len(names) - 88 == 1 + 2 * (5 if kind == "lstm" else 4) + 2 * per_direction + 4


def test_a_zero_initial_state_drops_its_products():
    module, _ = rnn_graph("lstm", "forward", outputs=(0,), seq=2)
    decompose(module)
    first, second = ([op.name for op in step_ops(module, f"rnn.t{t}.")] for t in (0, 1))
    assert len(first) == 7 and "nn.gemm" not in first  # no h R^T + add, no f * c + add
    assert len(second) == 11


def test_the_matrix_products_are_the_device_gemms():
    module, _ = rnn_graph("gru", "bidirectional", initial="h", lbr=True, outputs=(0,))
    decompose(module)
    gemms = [op for op in ops_of(module) if isinstance(op, nn.GemmOp | nn.MatmulOp)]
    assert gemms and all(isinstance(op, nn.GemmOp) and _device_matrix_product(op) for op in gemms)
    allowed = (nn.GemmOp, nn.AddOp, nn.SubOp, nn.MulOp, nn.SigmoidOp, nn.TanhOp, nn.SplitOp, nn.ConcatOp,
               nn.ReshapeOp)
    assert all(isinstance(op, allowed) for op in ops_of(module))


def test_step_limit_and_host_attribute_leave_the_layer():
    module, _ = rnn_graph("lstm", "bidirectional", seq=3)  # 6 steps
    decompose(module, max_steps=5)
    (layer,) = [op for op in ops_of(module) if isinstance(op, nn.LstmOp)]
    assert layer.attributes["nn.name"] == StringAttr("rnn")
    module, _ = rnn_graph("gru", outputs=(0,))
    (layer,) = [op for op in ops_of(module) if isinstance(op, nn.GruOp)]
    layer.attributes["nn.host"] = UnitAttr()
    decompose(module)
    assert [op for op in ops_of(module) if isinstance(op, nn.GruOp)] == [layer]


def test_an_unnamed_layer_left_whole_keeps_its_generated_name():
    module, _ = rnn_graph("lstm", seq=3, outputs=(0,))
    (layer,) = [op for op in ops_of(module) if isinstance(op, nn.LstmOp)]
    del layer.attributes["nn.name"]
    decompose(module, max_steps=2)
    assert layer.attributes["nn.name"] == StringAttr("lstm_0")


def test_a_layer_nobody_uses_is_erased():
    g = GraphBuilder()
    x = g.input("x", [3, 2, 4])
    g.add_multi(nn.GruOp(x, g.input("w", [1, 9, 4]), g.input("r", [1, 9, 3]), hidden_size=3), "rnn")
    g.output("y", g.add(nn.ReluOp(x), "relu"))
    module, _ = g.finish()
    decompose(module)
    assert [op.name for op in ops_of(module)] == ["nn.relu"]


def test_registered_under_its_name():
    assert all_passes()["decompose-rnn"]() is DecomposeRnnPass
    assert DecomposeRnnPass().max_steps == 64
    with pytest.raises(PassFailedException, match="max-steps must be >= 0 but is -1"):
        decompose(rnn_graph("lstm")[0], max_steps=-1)


# End to end on the emulator -----------------------------------------------------------------


E2E = {
    "lstm": lambda: rnn_graph("lstm", "forward", initial="hc", seq=3, batch=2, inp=6, hidden=5, as_weights=True),
    "gru_bidirectional": lambda: rnn_graph("gru", "bidirectional", initial="h", lbr=True, outputs=(0, 1), seq=2,
                                           batch=2, inp=6, hidden=5, as_weights=True),
}


@pytest.mark.parametrize("machine", PRESETS)
@pytest.mark.parametrize("name", sorted(E2E))
def test_runs_on_the_device(name, machine, tmp_path):
    module, store = E2E[name]()
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    inputs = random_inputs(signature(find_entry(module)), 5)
    expected = run(module.clone(), inputs, store)
    program = compile_module(module, machine, weights=weights)
    assert not program.host_ops, [h.layer for h in program.host_ops]  # all on the device
    result = load(program).run(inputs, check_races=True)
    for key, want in expected.items():
        np.testing.assert_allclose(result.outputs[key], want, rtol=0, atol=5e-3, err_msg=key)


def test_one_step_returns_y_and_y_h_from_two_buffers(tmp_path):
    """With one step Y and Y_h hold the same h; the device cannot return two views of one
    buffer, so Y is a copy (a one-input concat)."""
    module, store = rnn_graph("lstm", "forward", seq=1, outputs=(0, 1), as_weights=True)
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    inputs = random_inputs(signature(find_entry(module)), 2)
    expected = run(module.clone(), inputs, store)
    result = load(compile_module(module, "rapid-1c", weights=weights)).run(inputs, check_races=True)
    for key, want in expected.items():
        np.testing.assert_allclose(result.outputs[key], want, rtol=0, atol=5e-3, err_msg=key)
