"""Image classifiers as ONNX models: AlexNet, VGG-16, ResNet-18/50, MobileNetV2, an MLP.

Each builder takes `seed`, `batch` and its size parameters (the `small` and `full`
configurations are in `rapid_mlir.models.zoo`) and returns a checked `onnx.ModelProto`
with one input `input` [batch, 3, image, image] (the MLP: [batch, 1, image, image]) and
one output `logits` [batch, classes]. The layer layout and the names follow the
torchvision definitions as `torch.onnx.export` writes them in eval mode; AlexNet is the
original one-tower network with LRN and grouped convolutions (Krizhevsky et al. 2012,
as in Caffe's bvlc_alexnet), which torchvision's variant drops.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import onnx

from rapid_mlir.models.onnx_graph import OnnxGraph


def _classifier_head(g: OnnxGraph, x: str, widths: Sequence[int], relu_last: bool = False) -> str:
    """Linear layers `widths[0] -> widths[1] -> ...` with ReLUs between them (the dropout
    layers of the PyTorch definitions are identities in eval mode and are not exported)."""
    for i, (fin, fout) in enumerate(itertools.pairwise(widths)):
        x = g.linear(x, f"classifier.{i}", fin, fout)
        if relu_last or i < len(widths) - 2:
            x = g.relu(x, f"classifier.{i}")
    return x


def alexnet(seed: int = 0, batch: int = 1, image: int = 224, channels=(96, 256, 384, 384, 256),
            conv1=(11, 4, 2), fc: int = 4096, classes: int = 1000) -> onnx.ModelProto:
    """AlexNet: five convolutions (the 2nd, 4th and 5th in two groups), LRN after the first
    two, three max pools, three dense layers. `conv1` is (kernel, stride, pad)."""
    g = OnnxGraph("alexnet", seed)
    x = g.input("input", [batch, 3, image, image])
    k, stride, pad = conv1
    c1, c2, c3, c4, c5 = channels
    layers = [(3, c1, k, stride, pad, 1), (c1, c2, 5, 1, 2, 2), (c2, c3, 3, 1, 1, 1), (c3, c4, 3, 1, 1, 2),
              (c4, c5, 3, 1, 1, 2)]
    size = image
    for i, (cin, cout, k, stride, pad, group) in enumerate(layers):
        x = g.relu(g.conv(x, f"conv{i + 1}", cin, cout, k, stride, pad, group), f"relu{i + 1}")
        size = (size + 2 * pad - k) // stride + 1
        if i < 2:
            # The paper's local response normalisation: k = 2, n = 5, alpha = 1e-4, beta = 0.75.
            x = g.node("LRN", [x], f"norm{i + 1}", size=5, alpha=1e-4, beta=0.75, bias=2.0)
        if i in (0, 1, 4):
            x = g.max_pool(x, f"pool{i + 1}", 3, 2)
            size = (size - 3) // 2 + 1
    x = g.flatten(x)
    return g.finish({"logits": _classifier_head(g, x, [c5 * size * size, fc, fc, classes])})


VGG16_STAGES = (2, 2, 3, 3, 3)
"""Convolutions per stage of VGG-16 (configuration D); a 2x2 max pool ends each stage."""


def vgg16(seed: int = 0, batch: int = 1, image: int = 224, widths=(64, 128, 256, 512, 512), fc: int = 4096,
          classes: int = 1000) -> onnx.ModelProto:
    """VGG-16: thirteen 3x3 convolutions with bias and ReLU in five stages, three dense
    layers. torchvision's AdaptiveAvgPool2d((7, 7)) is left out: it is the identity at
    224x224, and the small variant keeps the plain VGG layout instead of pooling up."""
    g = OnnxGraph("vgg16", seed)
    x = g.input("input", [batch, 3, image, image])
    cin, index = 3, 0
    for convs, width in zip(VGG16_STAGES, widths):
        for _ in range(convs):
            x = g.relu(g.conv(x, f"features.{index}", cin, width, 3), f"features.{index + 1}")
            cin, index = width, index + 2
        x = g.max_pool(x, f"features.{index}", 2, 2)
        index += 1
    size = image // 2 ** len(VGG16_STAGES)
    x = g.flatten(x)
    return g.finish({"logits": _classifier_head(g, x, [cin * size * size, fc, fc, classes])})


def _conv_bn(g: OnnxGraph, x: str, scope: str, bn_scope: str, cin: int, cout: int, k: int, stride: int = 1,
             group: int = 1, gamma: float = 1.0) -> str:
    """A bias-free convolution and its batch norm (torchvision's Conv2d + BatchNorm2d)."""
    return g.batch_norm(g.conv(x, scope, cin, cout, k, stride, group=group, bias=False), bn_scope, cout, gamma)


# The last batch norm of a residual branch gets a small gamma so that the variance of the
# residual sum grows little per block (the idea of zero-init residuals, without zeros,
# which would make the branch invisible to the tests).
RESIDUAL_GAMMA = 0.3


def _basic_block(g: OnnxGraph, x: str, p: str, cin: int, planes: int, stride: int) -> tuple[str, int]:
    r = g.relu(_conv_bn(g, x, f"{p}.conv1", f"{p}.bn1", cin, planes, 3, stride), f"{p}.relu")
    r = _conv_bn(g, r, f"{p}.conv2", f"{p}.bn2", planes, planes, 3, gamma=RESIDUAL_GAMMA)
    if stride != 1 or cin != planes:
        x = _conv_bn(g, x, f"{p}.downsample.0", f"{p}.downsample.1", cin, planes, 1, stride)
    return g.relu(g.node("Add", [r, x], p), f"{p}.relu_1"), planes


def _bottleneck(g: OnnxGraph, x: str, p: str, cin: int, planes: int, stride: int) -> tuple[str, int]:
    """ResNet v1.5: the stride is on the 3x3 convolution."""
    r = g.relu(_conv_bn(g, x, f"{p}.conv1", f"{p}.bn1", cin, planes, 1), f"{p}.relu")
    r = g.relu(_conv_bn(g, r, f"{p}.conv2", f"{p}.bn2", planes, planes, 3, stride), f"{p}.relu_1")
    r = _conv_bn(g, r, f"{p}.conv3", f"{p}.bn3", planes, planes * 4, 1, gamma=RESIDUAL_GAMMA)
    if stride != 1 or cin != planes * 4:
        x = _conv_bn(g, x, f"{p}.downsample.0", f"{p}.downsample.1", cin, planes * 4, 1, stride)
    return g.relu(g.node("Add", [r, x], p), f"{p}.relu_2"), planes * 4


def resnet(seed: int = 0, batch: int = 1, image: int = 224, width: int = 64, blocks=(3, 4, 6, 3),
           bottleneck: bool = True, classes: int = 1000, name: str = "resnet50") -> onnx.ModelProto:
    """ResNet: a 7x7/2 stem, a 3x3/2 max pool, four stages of residual blocks (`blocks`
    per stage; bottleneck blocks for ResNet-50, basic blocks for ResNet-18), global
    average pooling and a dense layer. `width` is the stem's channels (64 standard)."""
    g = OnnxGraph(name, seed)
    x = g.input("input", [batch, 3, image, image])
    x = g.relu(_conv_bn(g, x, "conv1", "bn1", 3, width, 7, 2), "relu")
    x = g.max_pool(x, "maxpool", 3, 2, 1)
    block = _bottleneck if bottleneck else _basic_block
    cin = width
    for stage, count in enumerate(blocks):
        for b in range(count):
            stride = 2 if b == 0 and stage > 0 else 1
            x, cin = block(g, x, f"layer{stage + 1}.{b}", cin, width * 2 ** stage, stride)
    x = g.global_pool_flatten(x)
    return g.finish({"logits": g.linear(x, "fc", cin, classes)})


MOBILENET_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))
"""(expansion t, output channels c, repeats n, first stride s) per stage (Sandler et al. 2018)."""


def _inverted_residual(g: OnnxGraph, x: str, p: str, cin: int, cout: int, stride: int, expand: int) -> str:
    """Expand 1x1 (unless t = 1), depthwise 3x3, linear 1x1 projection; a residual when
    the shape is kept."""
    hidden = cin * expand
    r, i = x, 0
    if expand != 1:
        r = g.relu6(_conv_bn(g, r, f"{p}.conv.0.0", f"{p}.conv.0.1", cin, hidden, 1), f"{p}.conv.0.2")
        i = 1
    r = g.relu6(_conv_bn(g, r, f"{p}.conv.{i}.0", f"{p}.conv.{i}.1", hidden, hidden, 3, stride, group=hidden),
                f"{p}.conv.{i}.2")
    r = _conv_bn(g, r, f"{p}.conv.{i + 1}", f"{p}.conv.{i + 2}", hidden, cout, 1,
                 gamma=RESIDUAL_GAMMA if stride == 1 and cin == cout else 1.0)
    return g.node("Add", [x, r], p) if stride == 1 and cin == cout else r


def mobilenet_v2(seed: int = 0, batch: int = 1, image: int = 224, stem: int = 32, blocks=MOBILENET_V2_BLOCKS,
                 last: int = 1280, classes: int = 1000) -> onnx.ModelProto:
    """MobileNetV2: a 3x3/2 stem, inverted residual blocks with ReLU6 (Clip 0..6), a 1x1
    convolution to `last` channels, global average pooling and a dense layer."""
    g = OnnxGraph("mobilenet_v2", seed)
    x = g.input("input", [batch, 3, image, image])
    x = g.relu6(_conv_bn(g, x, "features.0.0", "features.0.1", 3, stem, 3, 2), "features.0.2")
    cin, index = stem, 1
    for expand, cout, repeats, stride in blocks:
        for r in range(repeats):
            x = _inverted_residual(g, x, f"features.{index}", cin, cout, stride if r == 0 else 1, expand)
            cin, index = cout, index + 1
    p = f"features.{index}"
    x = g.relu6(_conv_bn(g, x, f"{p}.0", f"{p}.1", cin, last, 1), f"{p}.2")
    x = g.global_pool_flatten(x)
    return g.finish({"logits": g.linear(x, "classifier.1", last, classes)})


def mlp(seed: int = 0, batch: int = 1, image: int = 28, hidden=(512, 512), classes: int = 10) -> onnx.ModelProto:
    """A multi-layer perceptron on a one-channel image: Flatten, then dense layers with
    ReLUs (`hidden` widths), then the dense layer to `classes`."""
    g = OnnxGraph("mlp", seed)
    x = g.flatten(g.input("input", [batch, 1, image, image]))
    widths = [image * image, *hidden, classes]
    return g.finish({"logits": _classifier_head(g, x, widths)})
