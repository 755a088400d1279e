"""The model zoo: well-known networks as ONNX models with seeded random weights.

    from rapid_mlir.models import zoo
    model = zoo.build("resnet50", size="small", seed=0)      # an onnx.ModelProto
    zoo.write("resnet50", "resnet50.onnx", size="full")     # 224x224, standard widths
    zoo.macs(model), zoo.parameters(model), zoo.example_inputs(model, seed=1)

    python -m rapid_mlir.models.zoo resnet50 --size full -o resnet50.onnx

Every model exists in two sizes: `small` (32x32 images or short sequences, narrow
layers, few blocks: for tests, it imports, compiles and emulates in seconds) and `full`
(the published architecture at 224x224 or its standard sequence length; hundreds of
megabytes for VGG-16, so generated on demand and never committed). The networks are
written the way `torch.onnx.export` writes the PyTorch definitions (opset 17), with
He-initialised weights and batch-norm statistics that keep activations in range (the
point is realistic shapes, operators and value ranges, not accuracy). docs/models.md
describes each model.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from rapid_mlir.models import sequence, vision
from rapid_mlir.models.onnx_graph import infer_shapes


@dataclass(frozen=True)
class ZooModel:
    """One network of the zoo: its builder and the keyword arguments of each size."""

    builder: Callable[..., onnx.ModelProto]
    """Called as builder(seed=..., batch=..., **sizes[size])."""
    summary: str
    """One line for listings."""
    sizes: dict[str, dict]
    """"small" and "full": the builder's size arguments."""
    classifier: bool = True
    """Whether the model's first output is a [batch, classes] tensor of logits."""


# The small sizes keep every kind of layer of the full network but as few layers as the
# architecture allows: on rapid-32c each layer is a kernel ending at a junction of all
# 192 instruction streams, so the tests' compile and emulation time grows with the
# number of layers (and recurrent steps) far more than with their width or image size.
ZOO: dict[str, ZooModel] = {
    "alexnet": ZooModel(vision.alexnet, "AlexNet (one tower, LRN, grouped convolutions)", {
        "small": dict(image=32, channels=(12, 32, 48, 48, 32), conv1=(5, 2, 2), fc=64, classes=10),
        "full": dict(image=224)}),
    "vgg16": ZooModel(vision.vgg16, "VGG-16 (configuration D)", {
        "small": dict(image=32, widths=(4, 8, 16, 32, 32), fc=64, classes=10),
        "full": dict(image=224)}),
    "resnet18": ZooModel(vision.resnet, "ResNet-18 (basic blocks)", {
        "small": dict(image=32, width=8, blocks=(1, 1, 1, 1), bottleneck=False, classes=10, name="resnet18"),
        "full": dict(image=224, blocks=(2, 2, 2, 2), bottleneck=False, name="resnet18")}),
    "resnet50": ZooModel(vision.resnet, "ResNet-50 v1.5 (bottleneck blocks)", {
        "small": dict(image=32, width=8, blocks=(1, 1, 1, 1), classes=10),
        "full": dict(image=224)}),
    "mobilenet_v2": ZooModel(vision.mobilenet_v2, "MobileNetV2 (inverted residuals, depthwise, ReLU6)", {
        "small": dict(image=32, stem=16, blocks=((1, 8, 1, 1), (6, 16, 2, 2)), last=64, classes=10),
        "full": dict(image=224)}),
    "mlp": ZooModel(vision.mlp, "multi-layer perceptron on a one-channel image", {
        "small": dict(image=8, hidden=(32, 32), classes=10),
        "full": dict(image=28)}),
    "lstm_lm": ZooModel(sequence.lstm_lm, "2-layer LSTM word language model over one token window", {
        "small": dict(seq=2, vocab=50, embed=16, hidden=16),
        "full": dict(seq=35)}, classifier=False),
    "gru": ZooModel(sequence.gru_classifier, "bidirectional GRU keyword classifier", {
        "small": dict(seq=2, features=8, hidden=16, classes=10),
        "full": dict(seq=32)}),
    "bert_layer": ZooModel(sequence.bert_layer, "one BERT-base encoder layer", {
        "small": dict(seq=8, hidden=32, heads=2, ffn=128),
        "full": dict(seq=128)}, classifier=False),
}
"""Model name -> its builder and sizes."""

MODELS: tuple[str, ...] = tuple(ZOO)
"""The names of the zoo's models."""

SIZES = ("small", "full")


def build(name: str, size: str = "small", seed: int = 0, batch: int = 1) -> onnx.ModelProto:
    """The model `name` of size "small" or "full", its weights drawn from `seed`."""
    if name not in ZOO:
        raise KeyError(f"unknown model '{name}'; the zoo has: {', '.join(MODELS)}")
    if size not in SIZES:
        raise ValueError(f"unknown size '{size}'; expected one of: {', '.join(SIZES)}")
    entry = ZOO[name]
    return entry.builder(seed=seed, batch=batch, **entry.sizes[size])


def write(name: str, path: str | Path, size: str = "small", seed: int = 0, batch: int = 1) -> onnx.ModelProto:
    """Builds the model and saves it to `path` (one file: every model is below protobuf's
    2 GiB limit); returns it."""
    model = build(name, size, seed, batch)
    onnx.save_model(model, str(path))
    return model


# ---------------------------------------------------------------------------
# Figures and inputs
# ---------------------------------------------------------------------------


def parameters(model: onnx.ModelProto) -> int:
    """The number of elements of the floating-point tensors among the initializers: the
    weights, biases and batch-norm statistics (running means and variances included,
    unlike PyTorch's count of trainable parameters), not the integer shape constants
    nor scalar constants (ReLU6's bounds, GELU's factors)."""
    floats = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE)
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type in floats and t.dims)


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Every tensor's static shape: inferred ones and the initializers'."""
    shapes = infer_shapes(model)
    shapes.update({t.name: tuple(t.dims) for t in model.graph.initializer})
    return shapes


def _node_macs(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> int:
    """Multiply-accumulates of one node: products only (Conv, Gemm, MatMul, LSTM, GRU)."""
    out = shapes[node.output[0]] if node.output[0] else ()
    if node.op_type == "Conv":
        w = shapes[node.input[1]]
        return int(np.prod(out)) * int(np.prod(w[1:]))
    if node.op_type == "Gemm":
        a = shapes[node.input[0]]
        trans_a = any(at.name == "transA" and at.i for at in node.attribute)
        return int(np.prod(out)) * (a[0] if trans_a else a[1])
    if node.op_type == "MatMul":
        return int(np.prod(out)) * shapes[node.input[0]][-1]
    if node.op_type in ("LSTM", "GRU"):
        seq, batch, _ = shapes[node.input[0]]
        dirs, gates_h, fin = shapes[node.input[1]]
        hidden = shapes[node.input[2]][-1]
        return seq * batch * dirs * gates_h * (fin + hidden)
    return 0


def macs(model: onnx.ModelProto) -> int:
    """Multiply-accumulates of one inference: the convolutions, dense layers, matrix
    products and recurrent layers' gate products (elementwise ops, pooling and
    normalisations are not counted, as is usual)."""
    shapes = _shapes(model)
    return sum(_node_macs(n, shapes) for n in model.graph.node)


def _index_ranges(model: onnx.ModelProto) -> dict[str, int]:
    """For each integer graph input that a Gather uses as indices: the number of rows of
    the table it indexes (the vocabulary of an embedding)."""
    rows = {t.name: t.dims[0] for t in model.graph.initializer if t.dims}
    return {n.input[1]: rows[n.input[0]] for n in model.graph.node
            if n.op_type == "Gather" and n.input[0] in rows}


def example_inputs(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs for every graph input: float tensors standard normal, token ids
    uniform over the rows of the embedding they index."""
    rng = np.random.default_rng(seed)
    ranges = _index_ranges(model)
    feeds = {}
    for info in model.graph.input:
        tt = info.type.tensor_type
        shape = [d.dim_value for d in tt.shape.dim]
        if tt.elem_type == TensorProto.INT64:
            feeds[info.name] = rng.integers(0, ranges.get(info.name, 2), shape).astype(np.int64)
        else:
            feeds[info.name] = rng.standard_normal(shape, dtype=np.float32)
    return feeds


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    """`python -m rapid_mlir.models.zoo NAME [-o FILE.onnx] [--size small|full] [--seed N]
    [--batch N]`: writes one model (default FILE: NAME-SIZE.onnx) and prints its
    parameter and MAC counts; `--list` lists the models."""
    parser = argparse.ArgumentParser(prog="python -m rapid_mlir.models.zoo",
                                     description="Writes a model of the zoo as an ONNX file.")
    parser.add_argument("name", nargs="?", choices=MODELS)
    parser.add_argument("-o", "--output", help="the .onnx file (default: NAME-SIZE.onnx)")
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    args = parser.parse_args(argv)
    if args.list or args.name is None:
        for name, entry in ZOO.items():
            print(f"{name:14} {entry.summary}")
        return 0
    path = args.output or f"{args.name}-{args.size}.onnx"
    model = write(args.name, path, args.size, args.seed, args.batch)
    print(f"{path}: {parameters(model):,} parameters, {macs(model):,} MACs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
