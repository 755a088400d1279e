"""ResNet-50 v1.5 (and narrower / smaller variants) as an `nn` module.

    module, store = resnet50(image=224, width=64, batch=1, seed=0)

Weights are seeded: convolutions and the dense layer use He initialisation, batch
norms have gamma near 1, beta and mean near 0 and var near 1, so activations keep a
sane range through the 50 layers (the point is realistic shapes and finite values,
not accuracy). `width` scales every stage's channels (64 is the standard network),
`image` the input's height and width.
"""

from __future__ import annotations

import numpy as np

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder

STAGES = ((1, 3), (2, 4), (4, 6), (8, 3))
"""(width multiple of the stem's, blocks) per stage."""


def resnet50(image: int = 224, width: int = 64, batch: int = 1, classes: int = 1000, seed: int = 0,
             stages=STAGES, weights_file: str = "resnet50.npz"):
    """The module and its weight store; inputs `image` [batch, 3, image, image], output `logits`."""
    rng = np.random.default_rng(seed)
    g = GraphBuilder("main")

    def he(shape, fan_in):
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)

    def conv_bn(x, name, cin, cout, k, stride, relu=True, gamma=1.0):
        w = g.constant(f"{name}.weight", he((cout, cin, k, k), cin * k * k))
        p = k // 2
        y = g.add(nn.Conv2DOp(x, w, strides=(stride, stride), pads=(p, p, p, p)), name)
        bn = [g.constant(f"{name}.bn.{field}", arr.astype(np.float32)) for field, arr in (
            ("scale", gamma * rng.uniform(0.9, 1.1, cout)), ("bias", rng.normal(0, 0.05, cout)),
            ("mean", rng.normal(0, 0.05, cout)), ("var", rng.uniform(0.9, 1.1, cout)))]
        y = g.add(nn.BatchNormOp(y, *bn, epsilon=1e-5), f"{name}.bn")
        return g.add(nn.ReluOp(y), f"{name}.relu") if relu else y

    x = g.input("image", [batch, 3, image, image])
    y = conv_bn(x, "conv1", 3, width, 7, 2)
    y = g.add(nn.MaxPool2DOp(y, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)), "maxpool")
    cin = width
    for stage, (mult, blocks) in enumerate(stages):
        planes = width * mult
        for b in range(blocks):
            stride = 2 if b == 0 and stage > 0 else 1
            name = f"layer{stage + 1}.{b}"
            r = conv_bn(y, f"{name}.conv1", cin, planes, 1, 1)
            r = conv_bn(r, f"{name}.conv2", planes, planes, 3, stride)
            # A small last gamma keeps the residual sum's variance from growing per block.
            r = conv_bn(r, f"{name}.conv3", planes, planes * 4, 1, 1, relu=False, gamma=0.3)
            if b == 0:
                y = conv_bn(y, f"{name}.downsample", cin, planes * 4, 1, stride, relu=False)
            y = g.add(nn.ReluOp(g.add(nn.AddOp(y, r), f"{name}.add")), f"{name}.relu")
            cin = planes * 4
    y = g.add(nn.FlattenOp(g.add(nn.GlobalAvgPoolOp(y), "avgpool"), axis=1), "flatten")
    w = g.constant("fc.weight", he((classes, cin), cin))
    b = g.constant("fc.bias", np.zeros(classes, np.float32))
    g.output("logits", g.add(nn.GemmOp(y, w, b, trans_b=True), "fc"))
    return g.finish(weights_file)
