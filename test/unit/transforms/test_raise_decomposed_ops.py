"""raise-decomposed-ops: layer norm, GELU and LRN written as primitive ONNX nodes come
back as one nn op each.

Each model is an ONNX graph in the form an exporter writes (built with onnx.helper,
seeded inputs and weights), imported, raised, and checked:

- the single op is there and none of the primitive ops is left;
- the reference interpreter on the raised module matches onnxruntime on the decomposed
  model (float32 both sides, only the order of the sums differs): max |err| <= 1e-4 of
  the output's scale;
- compiled for rapid-4c and emulated: max |err| <= 2e-2 of the output's scale (the
  device stores tensors in fp16, as in test/unit/models/test_zoo.py).

For LRN the decomposed graph is also checked against ONNX's definition of LRN, which
pins down the window and that AveragePool's mean makes alpha ONNX's alpha.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rapid_mlir.dialects import make_context, nn  # noqa: E402
from rapid_mlir.frontend.onnx import import_onnx  # noqa: E402
from rapid_mlir.reference.interpreter import run  # noqa: E402
from rapid_mlir.reference.onnx_export import run_onnxruntime  # noqa: E402
from rapid_mlir.transforms.raise_decomposed_ops import RaiseDecomposedOpsPass  # noqa: E402

OPSET = 17
REFERENCE_TOLERANCE = 1e-4
DEVICE_TOLERANCE = 2e-2


class Graph:
    """A small ONNX graph under construction: one float input `x`, one output `y`."""

    def __init__(self, shape, seed=0):
        self.shape = tuple(shape)
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []

    def const(self, name, value, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(self, op, inputs, out, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"/{out}", **attrs))
        return out

    def model(self, out):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, self.shape)
        y = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, "g", [x], [y], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def layer_norm_model(shape=(2, 3, 32), axes=(-1,), square="pow", gamma=True, beta=True, eps=1e-5):
    """PyTorch's LayerNorm below opset 17 (`square` "mul" writes d*d instead of Pow)."""
    g = Graph(shape)
    norm = [shape[a] for a in axes]
    g.node("ReduceMean", ["x"], "mean", axes=list(axes))
    g.node("Sub", ["x", "mean"], "d")
    if square == "pow":
        g.node("Pow", ["d", g.const("two", 2.0)], "sq")
    else:
        g.node("Mul", ["d", "d"], "sq")
    g.node("ReduceMean", ["sq"], "var", axes=list(axes))
    g.node("Add", ["var", g.const("eps", eps)], "var_eps")
    g.node("Sqrt", ["var_eps"], "std")
    y = g.node("Div", ["d", "std"], "normed")
    if gamma:
        y = g.node("Mul", [y, g.const("gamma", g.rng.uniform(0.5, 1.5, norm))], "scaled")
    if beta:
        y = g.node("Add", [g.const("beta", g.rng.uniform(-1, 1, norm)), y], "ln")
    return g.model(y)


def gelu_model(shape=(4, 24), form="torch"):
    """GELU as exported: "torch" (PyTorch, opset < 20), "half_first" (0.5 * x first, and
    x * 1/sqrt 2), "tanh" (PyTorch's approximate='tanh')."""
    g = Graph(shape)
    if form == "torch":
        g.node("Div", ["x", g.const("sqrt2", 1.4142135381698608)], "z")
        g.node("Erf", ["z"], "erf")
        g.node("Add", ["erf", g.const("one", 1.0)], "one_erf")
        g.node("Mul", ["x", "one_erf"], "x_one_erf")
        return g.model(g.node("Mul", ["x_one_erf", g.const("half", 0.5)], "gelu"))
    if form == "half_first":
        g.node("Mul", [g.const("half", 0.5), "x"], "half_x")
        g.node("Mul", ["x", g.const("rsqrt2", 0.70710678)], "z")
        g.node("Erf", ["z"], "erf")
        g.node("Add", [g.const("one", 1.0), "erf"], "one_erf")
        return g.model(g.node("Mul", ["half_x", "one_erf"], "gelu"))
    g.node("Mul", ["x", "x"], "x2")
    g.node("Mul", ["x", "x2"], "x3")
    g.node("Mul", [g.const("c", 0.044715), "x3"], "cx3")
    g.node("Add", ["x", "cx3"], "inner")
    g.node("Mul", [g.const("k", math.sqrt(2 / math.pi)), "inner"], "t")
    g.node("Tanh", ["t"], "tanh")
    g.node("Add", [g.const("one", 1.0), "tanh"], "one_tanh")
    g.node("Mul", ["x", "one_tanh"], "x_one_tanh")
    return g.model(g.node("Mul", [g.const("half", 0.5), "x_one_tanh"], "gelu"))


def lrn_model(shape=(1, 12, 5, 5), size=5, alpha=0.1, beta=0.5, bias=2.0, padding="pad"):
    """The canonical decomposed LRN (module docstring of raise_decomposed_ops): squares
    viewed as [N, 1, C, rest], summed over `size` channels by a padded AveragePool
    (`padding` "pad": a Pad node; "pool": the pool's own pads, count_include_pad=1),
    viewed back, then x / (avg * alpha + bias)^beta (beta 1: no Pow)."""
    g = Graph(shape)
    n, c = shape[:2]
    rest = math.prod(shape[2:])
    before, after = (size - 1) // 2, size // 2
    g.node("Mul", ["x", "x"], "sq")
    g.node("Reshape", ["sq", g.const("view", [n, 1, c, rest], np.int64)], "sq_view")
    pool_in, pool_pads = "sq_view", [0, 0, 0, 0]
    if padding == "pad":
        pool_in = g.node("Pad", ["sq_view", g.const("pads", [0, 0, before, 0, 0, 0, after, 0], np.int64)],
                         "sq_pad", mode="constant")
    else:
        pool_pads = [before, 0, after, 0]
    g.node("AveragePool", [pool_in], "avg", kernel_shape=[size, 1], pads=pool_pads, count_include_pad=1)
    g.node("Reshape", ["avg", g.const("back", list(shape), np.int64)], "avg_back")
    g.node("Mul", ["avg_back", g.const("alpha", alpha)], "scaled")
    den = g.node("Add", [g.const("bias", bias), "scaled"], "den")
    if beta != 1:
        den = g.node("Pow", [den, g.const("beta", beta)], "den_pow")
    return g.model(g.node("Div", ["x", den], "lrn"))


def onnx_lrn(x, size, alpha, beta, bias):
    """ONNX LRN as its specification writes it (onnxruntime's kernel takes only 4-D
    inputs and odd sizes): the window of channel c is [c - floor((size-1)/2), c +
    ceil((size-1)/2)], clipped to the channels."""
    sq = np.zeros_like(x)
    for c in range(x.shape[1]):
        lo, hi = max(0, c - (size - 1) // 2), min(x.shape[1] - 1, c + size // 2)
        sq[:, c] = (x[:, lo:hi + 1] ** 2).sum(axis=1)
    return x / (bias + alpha / size * sq) ** beta


def inputs_for(model, seed=1):
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return {"x": np.random.default_rng(seed).normal(size=shape).astype(np.float32)}


def raised(model):
    module, store = import_onnx(model, weights_file="weights.npz")
    RaiseDecomposedOpsPass().apply(make_context(), module)
    module.verify()
    return module, store


def nn_op_names(module):
    return sorted(op.name for op in module.walk() if op.name.startswith("nn.")
                  and not isinstance(op, nn.ConstantOp | nn.WeightOp))


def max_error(ours, theirs):
    assert ours.keys() == theirs.keys()
    return max(float(np.abs(ours[k] - v).max() / np.abs(v).max()) for k, v in theirs.items())


def check_numerics(model, module, store, tmp_path, device=True, feeds=None):
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    feeds = inputs_for(model) if feeds is None else feeds
    expected = run_onnxruntime(model, feeds)
    assert max_error(run(module, feeds, store), expected) <= REFERENCE_TOLERANCE
    if not device:
        return
    store.save(tmp_path / "weights.npz")
    # optimize=False: the module is raised already; the other graph passes are tested on their own.
    program = compile_module(module, "rapid-4c", weights=str(tmp_path / "weights.npz"), optimize=False)
    assert max_error(load(program).run(feeds).outputs, expected) <= DEVICE_TOLERANCE


# Layer norm ---------------------------------------------------------------------------


@pytest.mark.parametrize("square", ["pow", "mul"])
def test_layer_norm(square, tmp_path):
    model = layer_norm_model(square=square)
    module, store = raised(model)
    assert nn_op_names(module) == ["nn.layer_norm"]
    (ln,) = [op for op in module.walk() if isinstance(op, nn.LayerNormOp)]
    assert ln.axis.value.data == -1 and ln.epsilon.value.data == pytest.approx(1e-5)
    assert ln.attributes["nn.name"].data == "/ln" and ln.bias is not None
    # D = 32 > the importer's inline limit: gamma and beta stay weights, now operands.
    assert isinstance(ln.scale.owner, nn.WeightOp) and isinstance(ln.bias.owner, nn.WeightOp)
    assert not any(isinstance(op, nn.ConstantOp) for op in module.walk())  # eps and 2 are gone
    check_numerics(model, module, store, tmp_path)


def test_layer_norm_over_two_axes_without_affine(tmp_path):
    model = layer_norm_model(shape=(2, 4, 8), axes=(-2, 2), gamma=False, beta=False, eps=1e-3)
    module, store = raised(model)
    assert nn_op_names(module) == ["nn.layer_norm"]
    (ln,) = [op for op in module.walk() if isinstance(op, nn.LayerNormOp)]
    assert ln.axis.value.data == -2 and ln.bias is None and nn.shape_of(ln.scale) == (4, 8)
    check_numerics(model, module, store, tmp_path)


def test_layer_norm_not_over_the_last_axis_stays():
    module, _ = raised(layer_norm_model(axes=(1,), shape=(2, 3, 4), gamma=False, beta=False))
    assert "nn.layer_norm" not in nn_op_names(module)
    assert nn_op_names(module).count("nn.reduce") == 2


# GELU ---------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["torch", "half_first", "tanh"])
def test_gelu(form, tmp_path):
    model = gelu_model(form=form)
    module, store = raised(model)
    assert nn_op_names(module) == ["nn.gelu"]
    (gelu,) = [op for op in module.walk() if isinstance(op, nn.GeluOp)]
    assert gelu.approximate.data == ("tanh" if form == "tanh" else "none")
    assert gelu.attributes["nn.name"].data == "/gelu"
    assert not any(isinstance(op, nn.ConstantOp) for op in module.walk())
    check_numerics(model, module, store, tmp_path)


def test_gelu_with_another_constant_stays():
    model = gelu_model(form="torch")
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.array(1.41, np.float32), "sqrt2"))
    module, _ = raised(model)
    assert "nn.gelu" not in nn_op_names(module) and "nn.erf" in nn_op_names(module)


# LRN ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, size, beta, padding", [
    ((1, 12, 5, 5), 5, 0.5, "pad"),
    ((2, 8, 6), 3, 1.0, "pool"),
    ((1, 9, 4, 3), 4, 0.5, "pool"),  # even size: one more channel after than before
])
def test_lrn(shape, size, beta, padding, tmp_path):
    model = lrn_model(shape, size=size, beta=beta, padding=padding)
    module, store = raised(model)
    assert nn_op_names(module) == ["nn.lrn"]
    (lrn,) = [op for op in module.walk() if isinstance(op, nn.LrnOp)]
    assert (lrn.size.value.data, lrn.beta.value.data, lrn.bias.value.data) == (size, beta, 2.0)
    assert lrn.alpha.value.data == pytest.approx(0.1) and lrn.attributes["nn.name"].data == "/lrn"
    assert not any(isinstance(op, nn.ConstantOp) for op in module.walk())
    feeds = inputs_for(model)
    spec = onnx_lrn(feeds["x"], size, 0.1, beta, 2.0)
    np.testing.assert_allclose(run_onnxruntime(model, feeds)["lrn"], spec, rtol=1e-5, atol=1e-6)
    check_numerics(model, module, store, tmp_path)


@pytest.mark.parametrize("padding", ["pad", "pool"])
def test_lrn_alexnet_pow(padding, tmp_path):
    """AlexNet's LRN (size 5, alpha 1e-4, beta 0.75, bias 1) with its power written as
    Pow(., 0.75): imported as nn.pow, raised to nn.lrn. The inputs have the magnitude of
    AlexNet's ReLU outputs (tens), so that the window sum moves the result."""
    model = lrn_model((1, 16, 6, 5), size=5, alpha=1e-4, beta=0.75, bias=1.0, padding=padding)
    before, _ = import_onnx(model, weights_file="weights.npz")
    assert "nn.pow" in nn_op_names(before)
    module, store = raised(model)
    assert nn_op_names(module) == ["nn.lrn"]
    (lrn,) = [op for op in module.walk() if isinstance(op, nn.LrnOp)]
    assert (lrn.size.value.data, lrn.beta.value.data, lrn.bias.value.data) == (5, 0.75, 1.0)
    assert lrn.alpha.value.data == pytest.approx(1e-4) and lrn.attributes["nn.name"].data == "/lrn"
    assert not any(isinstance(op, nn.ConstantOp) for op in module.walk())
    feeds = {"x": np.float32(40) * inputs_for(model)["x"]}
    spec = onnx_lrn(feeds["x"], 5, 1e-4, 0.75, 1.0)
    assert np.abs(feeds["x"] / spec - 1).max() > 0.1  # the normalisation matters
    np.testing.assert_allclose(run_onnxruntime(model, feeds)["lrn"], spec, rtol=1e-5, atol=1e-5)
    check_numerics(model, module, store, tmp_path, feeds=feeds)


def test_lrn_with_pytorch_even_window_stays():
    """PyTorch pads size // 2 channels before: for an even size that is not ONNX's LRN."""
    model = lrn_model((1, 9, 4, 3), size=4, padding="pad")
    pads = next(i for i in model.graph.initializer if i.name == "pads")
    pads.CopyFrom(numpy_helper.from_array(np.array([0, 0, 2, 0, 0, 0, 1, 0], np.int64), "pads"))
    module, _ = raised(model)
    assert "nn.lrn" not in nn_op_names(module) and "nn.avg_pool2d" in nn_op_names(module)
