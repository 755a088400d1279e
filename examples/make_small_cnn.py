"""Writes the bundled demo network, `small_cnn.mlir` and its weights `small_cnn.npz`.

A CIFAR-sized CNN that touches the common layer kinds: conv + batch norm + relu,
max pooling, a residual block, a depthwise-separable block with clip (relu6),
global average pooling, a dense layer and softmax. Weights are seeded (He
initialisation), so running this again reproduces the committed files exactly.

    python examples/make_small_cnn.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text


def build(seed: int = 0):
    rng = np.random.default_rng(seed)
    g = GraphBuilder("main")

    def he(shape, fan_in):
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)

    def conv_bn(x, name, cin, cout, k=3, stride=1, groups=1, relu=True):
        w = g.constant(f"{name}.w", he((cout, cin // groups, k, k), cin // groups * k * k))
        p = k // 2
        y = g.add(nn.Conv2DOp(x, w, strides=(stride, stride), pads=(p, p, p, p), groups=groups), name)
        bn = [g.constant(f"{name}.bn.{field}", arr) for field, arr in (
            ("scale", rng.uniform(0.8, 1.2, cout)), ("bias", rng.normal(0, 0.1, cout)),
            ("mean", rng.normal(0, 0.1, cout)), ("var", rng.uniform(0.5, 1.5, cout)))]
        y = g.add(nn.BatchNormOp(y, *bn, epsilon=1e-5), f"{name}_bn")
        return g.add(nn.ReluOp(y), f"{name}_relu") if relu else y

    x = g.input("image", [1, 3, 32, 32])
    y = conv_bn(x, "stem", 3, 16)
    y = g.add(nn.MaxPool2DOp(y, kernel=(2, 2), strides=(2, 2)), "pool")
    # Residual block.
    r = conv_bn(y, "res.a", 16, 16)
    r = conv_bn(r, "res.b", 16, 16, relu=False)
    y = g.add(nn.ReluOp(g.add(nn.AddOp(y, r), "res_add")), "res_out")
    # Depthwise-separable block with relu6.
    y = conv_bn(y, "dw", 16, 16, stride=2, groups=16, relu=False)
    y = g.add(nn.ClipOp(y, min=0.0, max=6.0), "dw_relu6")
    y = conv_bn(y, "pw", 16, 32, k=1)
    # Classifier.
    y = g.add(nn.GlobalAvgPoolOp(y), "gap")
    y = g.add(nn.FlattenOp(y, axis=1), "flat")
    w = g.constant("fc.w", he((10, 32), 32))
    b = g.constant("fc.b", np.zeros(10, np.float32))
    y = g.add(nn.GemmOp(y, w, b, trans_b=True), "fc")
    g.output("probabilities", g.add(nn.SoftmaxOp(y, axis=-1), "softmax"))
    return g.finish("small_cnn.npz")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    module, weights = build()
    (out / "small_cnn.mlir").write_text(module_text(module))
    weights.save(out / "small_cnn.npz")
    print(f"wrote {out / 'small_cnn.mlir'} and {out / 'small_cnn.npz'} ({len(weights)} weights)")


if __name__ == "__main__":
    main()
