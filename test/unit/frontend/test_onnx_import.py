"""The ONNX importer against onnxruntime, an independent implementation of ONNX.

Every model here is written with `onnx.helper` (seeded random weights), run by
onnxruntime, imported, and run by our reference interpreter (float32 on both sides, so
rtol 1e-5 with an absolute floor of 1e-5 of the output's largest magnitude for values
near zero: the two sum in different orders). A few are also compiled for rapid-1c and
emulated, with the device's fp16 tolerance (rtol 1e-2, atol 1e-2 of the output's
largest magnitude). Then constant folding, the tools' happy paths, and their errors:
each a one-line `TOOL: error:` and exit 1 that writes nothing.
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper as onh  # noqa: E402

from rapid_mlir.frontend.onnx import OnnxImportError, import_onnx, parse_input_shapes  # noqa: E402
from rapid_mlir.reference.interpreter import run  # noqa: E402
from rapid_mlir.reference.onnx_export import run_onnxruntime  # noqa: E402
from rapid_mlir.tools.errors import InputError  # noqa: E402

F32 = TP.FLOAT


def rw(shape, seed=0, scale=0.5):
    """Seeded random float32 weights."""
    return np.random.default_rng(seed).normal(0, scale, shape).astype(np.float32)


def model(nodes, inputs, outputs, inits=None, opset=17):
    """A model from nodes; inputs {name: [shape] or ([shape], elem)}, output names, inits {name: array}."""
    infos = []
    for name, spec in inputs.items():
        shape, elem = spec if isinstance(spec, tuple) else (spec, F32)  # shapes are lists
        infos.append(oh.make_tensor_value_info(name, elem, list(shape)))
    outs = [oh.make_tensor_value_info(n, F32, None) for n in outputs]
    graph = oh.make_graph(nodes, "g", infos, outs,
                          [onh.from_array(np.asarray(a), n) for n, a in (inits or {}).items()])
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)], ir_version=10)


def feeds_for(m, seed=1, positive=False):
    rng = np.random.default_rng(seed)
    out = {}
    for info in m.graph.input:
        tt = info.type.tensor_type
        shape = [d.dim_value for d in tt.shape.dim]
        if tt.elem_type == F32:
            x = rng.normal(0, 1, shape).astype(np.float32)
            out[info.name] = np.abs(x) + 0.1 if positive else x
        else:
            out[info.name] = rng.integers(0, 3, shape).astype(np.int64)
    return out


def close(ours, theirs, rtol, scale_atol):
    assert ours.keys() == theirs.keys()
    for name in theirs:
        assert ours[name].shape == theirs[name].shape, name
        atol = scale_atol * max(float(np.abs(theirs[name]).max()), 1e-3)
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=name)


def check(m, feeds=None, positive=False):
    """Imports `m`, runs it on the reference interpreter and compares with onnxruntime."""
    feeds = feeds if feeds is not None else feeds_for(m, positive=positive)
    module, store = import_onnx(m)
    close(run(module, feeds, store), run_onnxruntime(m, feeds), rtol=1e-5, scale_atol=1e-5)
    return module, store


def node(op, ins, outs, **attrs):
    return oh.make_node(op, ins, outs, **attrs)


def single(op, shape, inits=None, opset=17, extra_inputs=(), outputs=("y",), **attrs):
    """A one-node model: input x (plus initializers / extra inputs), outputs y..."""
    ins = ["x", *extra_inputs]
    return model([node(op, ins, list(outputs), **attrs)], {"x": shape}, list(outputs), inits, opset)


# ---------------------------------------------------------------------------
# One model per op (and per interesting attribute) vs onnxruntime
# ---------------------------------------------------------------------------

CASES = {
    "conv_group_bias_dilation": lambda: single(
        "Conv", [1, 4, 9, 9], {"w": rw((6, 2, 3, 3)), "b": rw((6,), 1)}, extra_inputs=("w", "b"),
        group=2, strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2]),
    "conv_same_upper": lambda: single(
        "Conv", [1, 3, 8, 7], {"w": rw((4, 3, 4, 3))}, extra_inputs=("w",), auto_pad="SAME_UPPER",
        strides=[2, 2], kernel_shape=[4, 3]),
    "conv_same_lower": lambda: single(
        "Conv", [1, 3, 8, 7], {"w": rw((4, 3, 4, 3))}, extra_inputs=("w",), auto_pad="SAME_LOWER",
        strides=[2, 2]),
    "conv_valid": lambda: single("Conv", [2, 3, 8, 7], {"w": rw((4, 3, 3, 3))}, extra_inputs=("w",),
                                 auto_pad="VALID", strides=[2, 2]),
    "gemm_trans_b_alpha_beta": lambda: single(
        "Gemm", [3, 5], {"b": rw((4, 5)), "c": rw((4,), 1)}, extra_inputs=("b", "c"), transB=1,
        alpha=0.5, beta=2.0),
    "gemm_trans_a_no_bias": lambda: single("Gemm", [5, 3], {"b": rw((5, 4))}, extra_inputs=("b",), transA=1),
    "matmul_2d": lambda: single("MatMul", [3, 5], {"b": rw((5, 4))}, extra_inputs=("b",)),
    "matmul_3d_2d": lambda: single("MatMul", [2, 3, 5], {"b": rw((5, 4))}, extra_inputs=("b",)),
    "matmul_batched_4d": lambda: model([node("MatMul", ["x", "k"], ["y"])],
                                       {"x": [2, 3, 4, 5], "k": [2, 3, 5, 6]}, ["y"]),
    "batch_norm": lambda: single(
        "BatchNormalization", [2, 3, 4, 4],
        {"s": rw((3,)), "b": rw((3,), 1), "m": rw((3,), 2), "v": np.abs(rw((3,), 3)) + 0.5},
        extra_inputs=("s", "b", "m", "v"), epsilon=1e-3, momentum=0.8),
    "unary_chain": lambda: model(
        [node("Exp", ["x"], ["e"]), node("Sqrt", ["e"], ["s"]), node("Tanh", ["s"], ["t"]),
         node("Sigmoid", ["t"], ["g"]), node("Erf", ["g"], ["f"]), node("Sub", ["f", "h"], ["d"]),
         node("Relu", ["d"], ["y"])], {"x": [2, 7]}, ["y"], {"h": np.float32(0.6)}),  # erf(...) is in (0.52, 0.7)
    "clip_min_max": lambda: single("Clip", [3, 4], {"lo": np.float32(-0.5), "hi": np.float32(0.7)},
                                   extra_inputs=("lo", "hi")),
    "clip_max_only": lambda: single("Clip", [3, 4], {"hi": np.float32(0.2)}, extra_inputs=("", "hi"), opset=13),
    "clip_no_bounds": lambda: single("Clip", [3, 4]),
    "gelu_none": lambda: single("Gelu", [3, 8], opset=20),
    "gelu_tanh": lambda: single("Gelu", [3, 8], opset=20, approximate="tanh"),
    "softmax_axis1": lambda: single("Softmax", [2, 5, 3], axis=1),
    "softmax_default": lambda: single("Softmax", [2, 5, 3], opset=13),
    "lrn": lambda: single("LRN", [1, 6, 4, 4], size=3, alpha=1e-3, beta=0.6, bias=2.0),
    "max_pool_ceil_dilated": lambda: single("MaxPool", [1, 2, 9, 9], kernel_shape=[3, 3], strides=[2, 2],
                                            pads=[1, 1, 1, 1], ceil_mode=1, dilations=[1, 2]),
    "max_pool_same_upper": lambda: single("MaxPool", [1, 2, 7, 8], kernel_shape=[3, 2], strides=[2, 3],
                                          auto_pad="SAME_UPPER"),
    "max_pool_same_lower": lambda: single("MaxPool", [1, 2, 7, 8], kernel_shape=[2, 2], strides=[2, 2],
                                          auto_pad="SAME_LOWER"),
    "avg_pool_exclude_pad": lambda: single("AveragePool", [1, 2, 7, 7], kernel_shape=[3, 3], strides=[2, 2],
                                           pads=[1, 1, 1, 1]),
    "avg_pool_include_pad_ceil": lambda: single("AveragePool", [1, 2, 8, 8], kernel_shape=[3, 3],
                                                strides=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1,
                                                ceil_mode=1),
    "avg_pool_same_upper": lambda: single("AveragePool", [1, 2, 7, 7], kernel_shape=[2, 2], strides=[2, 2],
                                          auto_pad="SAME_UPPER"),
    "avg_pool_valid": lambda: single("AveragePool", [1, 2, 7, 7], kernel_shape=[3, 3], auto_pad="VALID",
                                     opset=19),
    "global_pools": lambda: model([node("GlobalAveragePool", ["x"], ["a"]), node("GlobalMaxPool", ["x"], ["m"])],
                                  {"x": [2, 3, 4, 5]}, ["a", "m"]),
    "binary_broadcasting": lambda: model(
        [node("Add", ["x", "a"], ["s1"]), node("Sub", ["b", "s1"], ["s2"]), node("Mul", ["s2", "c"], ["s3"]),
         node("Div", ["s3", "d"], ["y"])],
        {"x": [2, 3, 4]}, ["y"],
        {"a": rw((4,)), "b": rw((3, 1), 1), "c": np.float32(1.5), "d": np.abs(rw((2, 1, 4), 2)) + 0.5}),
    "max_min_variadic": lambda: model(
        [node("Max", ["x", "a", "z"], ["m"]), node("Min", ["m", "b"], ["n"]), node("Max", ["n"], ["y"])],
        {"x": [2, 3], "z": [2, 3]}, ["y"], {"a": rw((3,)), "b": rw((2, 1), 1)}),
    "pow_2_half_1": lambda: model(
        [node("Pow", ["x", "two"], ["p2"]), node("Pow", ["p2", "half"], ["ph"]), node("Pow", ["ph", "one"], ["y"])],
        {"x": [3, 4]}, ["y"], {"two": np.float32(2), "half": np.full((1,), 0.5, np.float32),
                                "one": np.float32(1)}),
    "pow_any_exponent": lambda: model(
        [node("Pow", ["x", "p"], ["p1"]), node("Pow", ["p1", "m"], ["y"])],
        {"x": [3, 4]}, ["y"], {"p": np.float32(0.75), "m": np.full((1, 1), -1.5, np.float32)}),
    "reduce_mean_axes_attribute_13": lambda: single("ReduceMean", [2, 3, 4], opset=13, axes=[1, -1], keepdims=0),
    "reduce_mean_axes_input_18": lambda: single("ReduceMean", [2, 3, 4], {"ax": np.array([2], np.int64)},
                                                opset=18, extra_inputs=("ax",)),
    # as torch's dynamo exporter writes AdaptiveAvgPool2d(1): the attribute given explicitly
    "reduce_mean_axes_input_noop_0": lambda: single("ReduceMean", [2, 3, 4], {"ax": np.array([1, 2], np.int64)},
                                                    opset=18, extra_inputs=("ax",), noop_with_empty_axes=0),
    "reduce_sum_axes_input_13": lambda: single("ReduceSum", [2, 3, 4], {"ax": np.array([0, 2], np.int64)},
                                               opset=13, extra_inputs=("ax",), keepdims=0),
    "reduce_sum_all": lambda: single("ReduceSum", [2, 3, 4], opset=13, keepdims=0),
    "reduce_max_axes_attribute_17": lambda: single("ReduceMax", [2, 3, 4], axes=[0]),
    "reduce_max_input_18": lambda: single("ReduceMax", [2, 3, 4], {"ax": np.array([-2], np.int64)}, opset=18,
                                          extra_inputs=("ax",)),
    "reduce_noop_with_empty_axes": lambda: model(
        [node("ReduceMean", ["x"], ["r"], noop_with_empty_axes=1, keepdims=0), node("Relu", ["r"], ["y"])],
        {"x": [2, 3]}, ["y"], opset=18),
    "layer_norm_bias": lambda: single("LayerNormalization", [2, 3, 8], {"s": rw((8,)), "b": rw((8,), 1)},
                                      extra_inputs=("s", "b"), epsilon=1e-4),
    "layer_norm_axis1_no_bias": lambda: single("LayerNormalization", [2, 3, 4], {"s": rw((3, 4))},
                                               extra_inputs=("s",), axis=1, stash_type=1),
    "concat_with_constant": lambda: model([node("Concat", ["x", "c", "x"], ["y"], axis=-1)],
                                          {"x": [2, 3]}, ["y"], {"c": rw((2, 2))}),
    "split_sizes_13": lambda: model(
        [node("Split", ["x", "s"], ["a", "b", "c"], axis=1)], {"x": [2, 7]}, ["a", "b", "c"],
        {"s": np.array([1, 4, 2], np.int64)}, opset=13),
    "split_equal_13": lambda: model([node("Split", ["x"], ["a", "b"], axis=-1)], {"x": [2, 6]}, ["a", "b"],
                                    opset=13),
    "split_num_outputs_18": lambda: model([node("Split", ["x"], ["a", "b", "c"], axis=0, num_outputs=3)],
                                          {"x": [7, 2]}, ["a", "b", "c"], opset=18),
    "squeeze_unsqueeze": lambda: model(
        [node("Unsqueeze", ["x", "u"], ["a"]), node("Squeeze", ["a", "s"], ["b"]), node("Squeeze", ["b"], ["y"])],
        {"x": [2, 1, 3]}, ["y"], {"u": np.array([0, -1], np.int64), "s": np.array([0], np.int64)}),
    "flatten": lambda: single("Flatten", [2, 3, 4, 5], axis=2),
    "reshape_zero_minus_one": lambda: single("Reshape", [2, 3, 4], {"s": np.array([0, -1, 2], np.int64)},
                                             extra_inputs=("s",)),
    "reshape_allowzero": lambda: single("Reshape", [2, 3, 4], {"s": np.array([4, 6], np.int64)},
                                        extra_inputs=("s",), allowzero=1),
    "transpose_perm": lambda: single("Transpose", [2, 3, 4], perm=[1, 2, 0]),
    "transpose_default": lambda: single("Transpose", [2, 3, 4]),
    "pad_constant_value": lambda: single("Pad", [2, 3], {"p": np.array([1, 0, 2, 3], np.int64),
                                                         "v": np.float32(1.5)}, extra_inputs=("p", "v")),
    "pad_reflect": lambda: single("Pad", [1, 2, 4, 4], {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)},
                                  extra_inputs=("p",), mode="reflect"),
    "pad_edge_axes_18": lambda: single("Pad", [1, 2, 4, 4], {"p": np.array([2, 1, 0, 3], np.int64),
                                                             "a": np.array([-1, 2], np.int64)},
                                       extra_inputs=("p", "", "a"), mode="edge", opset=18),
    "gather_constant_indices": lambda: single("Gather", [4, 5], {"i": np.array([[3, 0], [-1, 1]], np.int64)},
                                              extra_inputs=("i",), axis=1),
    "gather_embedding": lambda: model([node("Gather", ["table", "ids"], ["y"])], {"ids": ([2, 3], TP.INT64)},
                                      ["y"], {"table": rw((5, 4))}),
    "constant_cast_identity": lambda: model(
        [node("Constant", [], ["k"], value=onh.from_array(np.array([1, 2, 3], np.int64))),
         node("Cast", ["k"], ["kf"], to=F32), node("Identity", ["x"], ["xi"]), node("Add", ["xi", "kf"], ["y"])],
        {"x": [2, 3]}, ["y"]),
    "slice_dropout": lambda: model(
        [node("Slice", ["x", "st", "en", "ax"], ["s"]), node("Dropout", ["s"], ["y"])],
        {"x": [4, 6, 5]}, ["y"], {"st": np.array([1, -4], np.int64), "en": np.array([3, 2**62], np.int64),
                                  "ax": np.array([0, 2], np.int64)}, opset=13),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_onnxruntime(name):
    check(CASES[name](), positive=name.startswith("pow_"))


def _rnn_model(op, direction, lbr=0, with_states=True):
    dirs, h, gates = (2 if direction == "bidirectional" else 1), 5, (4 if op == "LSTM" else 3)
    inits = {"w": rw((dirs, gates * h, 3)), "r": rw((dirs, gates * h, h), 1), "b": rw((dirs, 2 * gates * h), 2)}
    inputs = {"x": [4, 2, 3]}
    ins = ["x", "w", "r", "b", ""]
    if with_states:
        inputs["h0"] = [dirs, 2, h]
        ins.append("h0")
        if op == "LSTM":
            inputs["c0"] = [dirs, 2, h]
            ins.append("c0")
    outs = ["y", "y_h", "y_c"] if op == "LSTM" else ["y", "y_h"]
    attrs = {"linear_before_reset": lbr} if op == "GRU" else {}
    n = node(op, ins, outs, hidden_size=h, direction=direction, **attrs)
    return model([n], inputs, outs, inits)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_all_outputs(direction):
    check(_rnn_model("LSTM", direction, with_states=direction != "reverse"))


@pytest.mark.parametrize("direction, lbr", [("forward", 0), ("reverse", 1), ("bidirectional", 1)])
def test_gru_both_reset_forms(direction, lbr):
    check(_rnn_model("GRU", direction, lbr, with_states=lbr == 1))


def test_lstm_default_activations_spelled_out_and_full_sequence_lens():
    m = _rnn_model("LSTM", "forward", with_states=False)
    n = m.graph.node[0]
    n.attribute.append(oh.make_attribute("activations", ["Sigmoid", "Tanh", "Tanh"]))
    n.input[4] = "lens"
    m.graph.initializer.append(onh.from_array(np.array([4, 4], np.int32), "lens"))
    check(m)


# ---------------------------------------------------------------------------
# Constant folding, names, weights
# ---------------------------------------------------------------------------


def _shape_chain_model():
    """What PyTorch writes for x.view(x.size(0), -1): shape arithmetic in the graph."""
    nodes = [
        node("Relu", ["x"], ["r"], name="relu0"),
        node("Shape", ["r"], ["s"]),
        node("Constant", [], ["zero"], value=onh.from_array(np.array(0, np.int64))),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "ax0"], ["nu"]),
        node("Concat", ["nu", "minus1"], ["shape"], axis=0),
        node("Reshape", ["r", "shape"], ["y"], name="view"),
    ]
    inits = {"ax0": np.array([0], np.int64), "minus1": np.array([-1], np.int64), "unused": rw((40, 40))}
    return model(nodes, {"x": ["batch", 3, 4, 5]}, ["y"], inits)


def test_shape_gather_unsqueeze_concat_reshape_folds():
    m = _shape_chain_model()
    module, store = import_onnx(m, {"x": [2, 3, 4, 5]})
    ops = [op.name for op in module.walk() if op.name.startswith("nn.")]
    assert ops == ["nn.relu", "nn.reshape"]
    assert len(store) == 0  # the unused initializer is not a weight
    x = feeds_for(model([], {"x": [2, 3, 4, 5]}, []))["x"]
    close(run(module, {"x": x}, store), run_onnxruntime(m, {"x": x}), rtol=1e-6, scale_atol=0)


def test_names_inputs_that_are_initializers_and_external_data(tmp_path):
    w = rw((6, 6))
    nodes = [node("MatMul", ["x", "onnx::MatMul_7"], ["m"], name="fc"),
             node("Relu", ["m"], ["out.1"], name="fc"),  # a repeated node name
             node("Relu", ["out.1"], ["y"])]
    m = model(nodes, {"x": [2, 6]}, ["y"], {"onnx::MatMul_7": w})
    m.graph.input.append(oh.make_tensor_value_info("onnx::MatMul_7", F32, [6, 6]))  # old exporters do this
    path = tmp_path / "net.onnx"
    ref = onnx.ModelProto()
    ref.CopyFrom(m)  # saving with external data moves m's tensors out
    onnx.save_model(m, str(path), save_as_external_data=True, location="net.data", size_threshold=0)
    assert (tmp_path / "net.data").exists()
    module, store = import_onnx(path)
    assert module.attributes["nn.weights"].data == "net.npz"
    assert store.names() == ["onnx::MatMul_7"]
    names = [op.attributes["nn.name"].data for op in module.walk() if "nn.name" in op.attributes]
    assert names == ["fc", "fc_1", "y"]
    x = feeds_for(ref)["x"]
    ref.graph.node[1].name = "fc2"  # onnxruntime rejects repeated node names; we rename
    close(run(module, {"x": x}, store), run_onnxruntime(ref, {"x": x}), rtol=1e-5, scale_atol=1e-5)


# ---------------------------------------------------------------------------
# Compiled for rapid-1c and emulated (fp16 storage on the device)
# ---------------------------------------------------------------------------


def _small_cnn():
    nodes = [
        node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        node("BatchNormalization", ["c1", "s", "b", "m", "v"], ["bn"]),
        node("Relu", ["bn"], ["r1"]),
        node("MaxPool", ["r1"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["p", "w2"], ["c2"], auto_pad="SAME_UPPER"),
        node("Add", ["c2", "p"], ["res"]),
        node("GlobalAveragePool", ["res"], ["g"]),
        node("Flatten", ["g"], ["f"]),
        node("Gemm", ["f", "fc"], ["logits"], transB=1),
        node("Softmax", ["logits"], ["probs"]),
    ]
    inits = {"w1": rw((8, 3, 3, 3)), "b1": rw((8,), 1), "s": rw((8,), 2) + 1, "b": rw((8,), 3),
             "m": rw((8,), 4), "v": np.abs(rw((8,), 5)) + 0.5, "w2": rw((8, 8, 3, 3), 6, 0.2),
             "fc": rw((10, 8), 7)}
    return model(nodes, {"x": [1, 3, 8, 8]}, ["probs"], inits)


def _attention_block():
    nodes = [
        node("LayerNormalization", ["x", "ln_s", "ln_b"], ["ln"]),
        node("MatMul", ["ln", "wq"], ["q0"]), node("Add", ["q0", "bq"], ["q"]),
        node("MatMul", ["ln", "wk"], ["k"]),
        node("Reshape", ["q", "heads"], ["qh"]), node("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]),
        node("Reshape", ["k", "heads"], ["kh"]), node("Transpose", ["kh"], ["kt"], perm=[0, 2, 3, 1]),
        node("MatMul", ["qt", "kt"], ["att"]), node("Mul", ["att", "scale"], ["atts"]),
        node("Softmax", ["atts"], ["p"], axis=-1),
        node("ReduceMean", ["p", "ax"], ["pm"], keepdims=0),
        node("Gelu", ["q"], ["gq"]), node("Concat", ["gq", "k"], ["y"], axis=-1),
    ]
    inits = {"ln_s": rw((16,)) + 1, "ln_b": rw((16,), 1), "wq": rw((16, 16), 2), "bq": rw((16,), 3),
             "wk": rw((16, 16), 4), "heads": np.array([0, 0, 2, 8], np.int64), "scale": np.float32(0.35),
             "ax": np.array([1], np.int64)}
    return model(nodes, {"x": [1, 8, 16]}, ["pm", "y"], inits, opset=20)


DEVICE_CASES = {
    "small_cnn": _small_cnn, "attention": _attention_block,
    "lstm_bidirectional": lambda: _rnn_model("LSTM", "bidirectional"),
    "gru_reverse": lambda: _rnn_model("GRU", "reverse", lbr=1),
    **{f"op_{name}": build for name, build in CASES.items()},
}


@pytest.mark.parametrize("name", sorted(DEVICE_CASES))
def test_compiled_and_emulated_matches_onnxruntime(name, tmp_path):
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    m = DEVICE_CASES[name]()
    module, store = import_onnx(m, weights_file="w.npz")
    store.save(tmp_path / "w.npz")
    program = compile_module(module, "rapid-1c", weights=str(tmp_path / "w.npz"))
    feeds = feeds_for(m, positive=name.startswith("op_pow_"))
    close(load(program).run(feeds).outputs, run_onnxruntime(m, feeds), rtol=1e-2, scale_atol=1e-2)


def test_float16_model():
    """f16 inputs and initializers stay f16 (our reference rounds after every op)."""
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["a"]), node("Relu", ["a"], ["y"])]
    m = model(nodes, {"x": ([2, 4], TP.FLOAT16)}, [], {"w": rw((4, 3)).astype(np.float16),
                                                      "b": rw((3,), 1).astype(np.float16)}, opset=21)
    m.graph.output.append(oh.make_tensor_value_info("y", TP.FLOAT16, None))
    module, store = import_onnx(m)
    assert "tensor<2x3xf16>" in str(module)
    feeds = {"x": rw((2, 4), 5).astype(np.float16)}
    close(run(module, feeds, store), run_onnxruntime(m, feeds), rtol=1e-2, scale_atol=1e-2)


# ---------------------------------------------------------------------------
# The tools
# ---------------------------------------------------------------------------


def test_rapidc_and_rapid_run_on_an_onnx_model(tmp_path, capsys):
    from rapid_mlir.tools.rapid_run import main as rapid_run
    from rapid_mlir.tools.rapidc import main as rapidc

    m = _shape_chain_model()
    m.graph.node.append(node("MatMul", ["y", "fc"], ["z"]))
    m.graph.initializer.append(onh.from_array(rw((60, 7)), "fc"))
    m.graph.output[0].name = "z"
    onnx.save_model(m, str(tmp_path / "net.onnx"))
    out = tmp_path / "net.rbin"
    argv = [str(tmp_path / "net.onnx"), "-o", str(out), "--machine", "rapid-1c", "--input-shape", "x=2x3x4x5"]
    assert rapidc(argv) == 0
    feeds = {"x": rw((2, 3, 4, 5), 9)}
    np.savez(tmp_path / "in.npz", **feeds)
    assert rapid_run([str(out), "--inputs", str(tmp_path / "in.npz"), "--outputs", str(tmp_path / "o.npz")]) == 0
    with np.load(tmp_path / "o.npz") as res:
        close(dict(res), run_onnxruntime(m, feeds), rtol=1e-2, scale_atol=1e-2)
    assert not list(tmp_path.glob("*.npz.tmp*")) and not (tmp_path / "net.npz").exists()


def test_rapidc_emit_nn_writes_a_module_and_its_weights(tmp_path, capsys):
    from rapid_mlir.tools.rapid_ref import main as rapid_ref
    from rapid_mlir.tools.rapidc import main as rapidc

    m = _small_cnn()
    onnx.save_model(m, str(tmp_path / "cnn.onnx"))
    assert rapidc([str(tmp_path / "cnn.onnx"), "--emit", "nn"]) == 0
    assert "nn.conv2d" in capsys.readouterr().out
    assert rapidc([str(tmp_path / "cnn.onnx"), "--emit", "nn", "-o", str(tmp_path / "out" / "cnn.mlir")]) == 1
    (tmp_path / "out").mkdir()
    assert rapidc([str(tmp_path / "cnn.onnx"), "--emit", "nn", "-o", str(tmp_path / "out" / "cnn.mlir")]) == 0
    assert 'nn.weights = "cnn.npz"' in (tmp_path / "out" / "cnn.mlir").read_text()
    feeds = feeds_for(m)
    np.savez(tmp_path / "in.npz", **feeds)
    assert rapid_ref([str(tmp_path / "out" / "cnn.mlir"), "--inputs", str(tmp_path / "in.npz"),
                      "--outputs", str(tmp_path / "o.npz")]) == 0
    with np.load(tmp_path / "o.npz") as res:
        close(dict(res), run_onnxruntime(m, feeds), rtol=1e-5, scale_atol=1e-5)


def test_rapid_ref_on_an_onnx_model(tmp_path, capsys):
    from rapid_mlir.tools.rapid_ref import main as rapid_ref

    m = _shape_chain_model()
    onnx.save_model(m, str(tmp_path / "net.onnx"))
    feeds = {"x": rw((1, 3, 4, 5), 4)}
    np.savez(tmp_path / "in.npz", **feeds)
    assert rapid_ref([str(tmp_path / "net.onnx"), "--input-shape", "x=1x3x4x5", "--inputs",
                      str(tmp_path / "in.npz"), "--outputs", str(tmp_path / "o.npz")]) == 0
    assert capsys.readouterr().out.startswith("y: 1x60 float32")
    with np.load(tmp_path / "o.npz") as res:
        close(dict(res), run_onnxruntime(m, feeds), rtol=1e-6, scale_atol=0)


def _unsupported_op():
    return model([node("HardSwish", ["x"], ["y"], name="hs1")], {"x": [2, 3]}, ["y"], opset=17)


def _reshape_to_input_shape():
    return model([node("Reshape", ["x", "s"], ["y"])], {"x": [2, 3], "s": ([2], TP.INT64)}, ["y"])


ERRORS = {
    "unsupported op": (_unsupported_op, [], "node 'hs1' (HardSwish, opset 17): operator HardSwish is not supported"),
    "symbolic dimension": (_shape_chain_model, [],
                           "input 'x' has the symbolic dimension 'batch' (shape batchx3x4x5): give it a static "
                           "shape with --input-shape x=1x3x4x5"),
    "bad shape text": (_shape_chain_model, ["--input-shape", "x=2xAx4x5"], "--input-shape 'x=2xAx4x5': expected"),
    "no shape text": (_shape_chain_model, ["--input-shape", "x"], "--input-shape 'x': expected"),
    "zero dimension": (_shape_chain_model, ["--input-shape", "x=0x3x4x5"], "--input-shape 'x=0x3x4x5'"),
    "unknown input": (_shape_chain_model, ["--input-shape", "image=1x3x4x5"],
                      "an input shape is given for 'image' but the model's inputs are: x"),
    "wrong rank": (_shape_chain_model, ["--input-shape", "x=1x3x4"], "input 'x' has rank 4"),
    "fixed dim": (_shape_chain_model, ["--input-shape", "x=1x2x4x5"], "input 'x' has dimension 1 = 3"),
    "opset 12": (lambda: single("Relu", [2], opset=12), [], "the model uses ONNX opset 12 but the importer "
                                                             "supports opsets 13 to 21"),
    "opset 22": (lambda: single("Relu", [2], opset=22), [], "ONNX opset 22"),
    "unsupported attribute": (lambda: single("Softmax", [2, 3], foo=1), [],
                              "node #0 (output 'y') (Softmax, opset 17): attribute 'foo' is not supported"),
    "lstm clip": (lambda: _with_attr(_rnn_model("LSTM", "forward"), clip=1.0), [],
                  "(LSTM, opset 17): attribute 'clip' is not supported"),
    "run-time reshape": (_reshape_to_input_shape, [], "the shape (input 1, 's') must be a constant"),
    "pow run-time exponent": (lambda: model([node("Pow", ["x", "e"], ["y"])], {"x": [2], "e": [1]}, ["y"]), [],
                              "(Pow, opset 17): the exponent (input 1, 'e') must be a constant"),
    "verifier": (lambda: single("MatMul", [2, 3], {"b": rw((4, 5))}, extra_inputs=("b",)), [],
                 "(MatMul, opset 17): nn.matmul: lhs has 3 columns but rhs has 4 rows"),
}


def _with_attr(m, **attrs):
    for k, v in attrs.items():
        m.graph.node[0].attribute.append(oh.make_attribute(k, v))
    return m


@pytest.mark.parametrize("case", sorted(ERRORS))
@pytest.mark.parametrize("tool", ["rapidc", "rapid-ref"])
def test_errors_are_one_line_and_write_nothing(case, tool, tmp_path, capsys):
    from rapid_mlir.tools.rapid_ref import main as rapid_ref
    from rapid_mlir.tools.rapidc import main as rapidc

    build, extra, message = ERRORS[case]
    onnx.save_model(build(), str(tmp_path / "m.onnx"))
    if tool == "rapidc":
        rc = rapidc([str(tmp_path / "m.onnx"), "-o", str(tmp_path / "m.rbin"), *extra])
    else:
        rc = rapid_ref([str(tmp_path / "m.onnx"), "--random-inputs", "0", "--outputs", str(tmp_path / "o.npz"),
                        *extra])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith(f"{tool}: error: ") and err.count("\n") == 1, err
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_tool_option_errors(tmp_path, capsys):
    from rapid_mlir.tools.rapid_ref import main as rapid_ref
    from rapid_mlir.tools.rapidc import main as rapidc

    (tmp_path / "garbage.onnx").write_bytes(b"\x08\x07not a model")
    assert rapidc([str(tmp_path / "garbage.onnx"), "--emit", "nn"]) == 1
    assert "not a readable ONNX model" in capsys.readouterr().err
    onnx.save_model(_shape_chain_model(), str(tmp_path / "m.onnx"))
    assert rapid_ref([str(tmp_path / "m.onnx"), "--random-inputs", "0", "--weights", "w.npz"]) == 1
    assert "--weights applies only to .mlir modules" in capsys.readouterr().err
    (tmp_path / "m.mlir").write_text("")
    assert rapidc([str(tmp_path / "m.mlir"), "--input-shape", "x=1"]) == 1
    assert "--input-shape applies only to ONNX models" in capsys.readouterr().err
    with pytest.raises(InputError, match="gives input 'x' twice"):
        parse_input_shapes(["x=1", "x=2"])
    assert parse_input_shapes(["a=b=1x2"]) == {"a=b": (1, 2)}


def test_errors_are_input_errors():
    with pytest.raises(OnnxImportError):
        import_onnx(_unsupported_op())
    assert issubclass(OnnxImportError, InputError)
