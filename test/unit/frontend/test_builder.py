"""GraphBuilder: named inputs/outputs, external weights, and compact text for big models."""

import numpy as np

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module, read_module
from rapid_mlir.reference.signature import find_entry, signature
from rapid_mlir.weights import declared_weights, store_for


def resnet50(g: GraphBuilder, rng) -> None:
    """ResNet-50 v1.5 at 224x224 with batch norms, written with the builder."""

    def conv_bn(x, name, cin, cout, k, stride, relu=True):
        w = g.constant(f"{name}.w", rng.standard_normal((cout, cin, k, k), dtype=np.float32))
        p = k // 2
        y = g.add(nn.Conv2DOp(x, w, strides=(stride, stride), pads=(p, p, p, p)), name)
        params = [g.constant(f"{name}.bn{i}", np.ones(cout, np.float32)) for i in range(4)]
        y = g.add(nn.BatchNormOp(y, *params), f"{name}_bn")
        return g.add(nn.ReluOp(y)) if relu else y

    x = g.input("image", [1, 3, 224, 224])
    y = conv_bn(x, "conv1", 3, 64, 7, 2)
    y = g.add(nn.MaxPool2DOp(y, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)))
    cin = 64
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for b in range(blocks):
            stride = 2 if b == 0 and stage > 0 else 1
            name = f"layer{stage + 1}.{b}"
            r = conv_bn(y, f"{name}.conv1", cin, width, 1, 1)
            r = conv_bn(r, f"{name}.conv2", width, width, 3, stride)
            r = conv_bn(r, f"{name}.conv3", width, width * 4, 1, 1, relu=False)
            if b == 0:
                y = conv_bn(y, f"{name}.down", cin, width * 4, 1, stride, relu=False)
            y = g.add(nn.ReluOp(g.add(nn.AddOp(y, r))))
            cin = width * 4
    y = g.add(nn.FlattenOp(g.add(nn.GlobalAvgPoolOp(y))))
    w = g.constant("fc.w", rng.standard_normal((1000, 2048), dtype=np.float32))
    b = g.constant("fc.b", np.zeros(1000, np.float32))
    g.output("logits", g.add(nn.GemmOp(y, w, b, trans_b=True)))


def test_resnet50_text_stays_small(tmp_path):
    g = GraphBuilder()
    resnet50(g, np.random.default_rng(0))
    module, store = g.finish("resnet50.npz")
    text = module_text(module)
    params = sum(int(np.prod(t.get_shape())) for _, t in declared_weights(module))
    assert params > 25_000_000          # the real model's size: weights are not in the text
    assert len(text) < 200_000, len(text)  # "well under 1 MB"
    # The text parses back and its weights resolve against the saved side file.
    (tmp_path / "resnet50.mlir").write_text(text)
    store.save(tmp_path / "resnet50.npz")
    reread = read_module(tmp_path / "resnet50.mlir")
    assert len(store_for(reread, tmp_path / "resnet50.mlir")) == len(store)


def test_names_survive_printing():
    g = GraphBuilder(name="net")
    x = g.input("input.1", [1, 4])
    g.output("logits:0", g.add(nn.ReluOp(x)))
    module, _ = g.finish()
    sig = signature(find_entry(parse_module(module_text(module))))
    assert [n for n, _ in sig.inputs] == ["input.1"]
    assert [n for n, _ in sig.outputs] == ["logits:0"]


def test_small_arrays_are_inline():
    g = GraphBuilder(inline_limit=4)
    x = g.input("x", [4])
    y = g.add(nn.AddOp(x, g.constant("small", np.arange(4, dtype=np.float32))))
    y = g.add(nn.AddOp(y, g.constant("big", np.zeros((2, 4), np.float32))))
    g.output("y", y)
    module, store = g.finish("w.npz")
    text = module_text(module)
    assert 'nn.constant dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00]>' in text
    assert 'nn.weight "big" : tensor<2x4xf32>' in text
    assert store.names() == ["big"]
