"""The reference interpreter on whole nn modules vs onnxruntime on the exported ONNX model.

The kernel sweep (test_kernels_vs_onnxruntime.py) checks the NumPy kernels; this file
checks the layer above: that each op's IR attributes reach the kernels correctly
(pads order, transpose flags, optional operands, enums) and that whole graphs with
external weights run. Tolerance: both sides compute in float32 but in different orders
(im2col vs direct convolution, different exp/erf implementations), so rtol=atol=1e-4;
errors from a wrong attribute are orders of magnitude larger.
"""

import numpy as np
import pytest
from xdsl.dialects.builtin import f16, i64

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module, read_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.onnx_export import run_onnxruntime, to_onnx
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.weights import store_for

from op_cases import CASES, build_case, w  # test/unit/op_cases.py

RTOL = ATOL = 1e-4


def compare(module, store, inputs):
    ours = run(module, inputs, store)
    theirs = run_onnxruntime(to_onnx(module, store), inputs)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key].shape == theirs[key].shape
        np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=ATOL, err_msg=key)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_attributes_reach_the_kernels(name):
    module, store = build_case(name)
    module.verify()
    compare(module, store, random_inputs(signature(find_entry(module)), seed=3))


def test_gather_embedding():
    g = GraphBuilder()
    ids = g.input("ids", [3, 5], i64)
    table = w(g, "emb", (11, 6))
    g.output("vectors", g.add(nn.GatherOp(table, ids, axis=0)))
    g.output("cols", g.add(nn.GatherOp(table, ids, axis=1)))
    module, store = g.finish("w.npz")
    compare(module, store, {"ids": np.array([[0, 1, -1, 5, 2]] * 3, np.int64)})


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_and_gru_all_outputs(direction):
    d, h = (2 if direction == "bidirectional" else 1), 5
    g = GraphBuilder()
    x = g.input("x", [6, 3, 4])
    h0 = g.input("h0", [d, 3, h])
    c0 = g.input("c0", [d, 3, h])
    outs = g.add_multi(nn.LstmOp(x, w(g, "lw", (d, 4 * h, 4)), w(g, "lr", (d, 4 * h, h), 1),
                                 w(g, "lb", (d, 8 * h), 2), h0, c0, hidden_size=h, direction=direction))
    for i, v in enumerate(outs):
        g.output(f"lstm{i}", v)
    for lbr in (False, True):
        gru = g.add_multi(nn.GruOp(x, w(g, f"gw{lbr}", (d, 3 * h, 4)), w(g, f"gr{lbr}", (d, 3 * h, h), 1),
                                   None, h0 if lbr else None, hidden_size=h, direction=direction,
                                   linear_before_reset=lbr))
        for i, v in enumerate(gru):
            g.output(f"gru{int(lbr)}_{i}", v)
    module, store = g.finish("w.npz")
    compare(module, store, random_inputs(signature(find_entry(module)), seed=4))


def test_f16_storage_rounds_float32_results():
    g = GraphBuilder()
    x = g.input("x", [4, 8], f16)
    g.output("y", g.add(nn.SoftmaxOp(g.add(nn.MulOp(x, x)), axis=1)))
    module, store = g.finish()
    inputs = random_inputs(signature(find_entry(module)), seed=5)
    y = run(module, inputs, store)["y"]
    assert y.dtype == np.float16
    x32 = inputs["x"].astype(np.float32)
    sq = (x32 * x32).astype(np.float16).astype(np.float32)   # the IR stores the product in f16
    e = np.exp(sq - sq.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, (e / e.sum(axis=1, keepdims=True)).astype(np.float16), rtol=1e-3, atol=1e-3)


def test_bundled_example_matches_onnxruntime(tmp_path):
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "examples" / "small_cnn.mlir"
    module = read_module(path)
    store = store_for(module, path)
    # Through text, as users run it: printing and parsing must not change the numbers.
    module = parse_module(module_text(module))
    compare(module, store, random_inputs(signature(find_entry(module)), seed=0))


def test_integer_data_movement_is_exact():
    g = GraphBuilder()
    a = g.input("a", [2, 3], i64)
    t = g.add(nn.TransposeOp(g.add(nn.ConcatOp([a, a], axis=0)), perm=[1, 0]))
    parts = g.add_multi(nn.SplitOp(g.add(nn.ReshapeOp(t, [12])), axis=0, sizes=[5, 7]))
    g.output("flat", g.add(nn.FlattenOp(parts[1], axis=0)))
    g.output("picked", g.add(nn.GatherOp(a, g.constant("ids", np.array([2, -1], np.int64)), axis=1)))
    module, store = g.finish()
    big = np.arange(6, dtype=np.int64).reshape(2, 3) + (1 << 40)    # not representable in float32
    compare(module, store, {"a": big})
    out = run(module, {"a": big}, store)
    assert out["flat"].dtype == np.int64 and out["picked"][0, 0] == big[0, 2]
