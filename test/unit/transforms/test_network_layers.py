"""Every distinct convolution and dense layer of ResNet-50 and VGG-16 at 224 x 224 compiles
on rapid-4c with the fixed strategy: layers too big for one LX tile (several LX steps along
the output rows, input channels streamed through LX with the partial sums in ACC), 14 x 14
and 7 x 7 outputs split unevenly over the corelets (ragged tiles), the 25088-long dense
layer. Compile only: emulating the full-size layers is slow (the sweep and
test_mpe_lowering.py check the same code paths on small shapes against the reference).
"""

import pytest

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.models.resnet import resnet50
from rapid_mlir.pipeline import compile_module

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def resnet50_layers() -> set[tuple]:
    """(kind, shapes...) of ResNet-50's distinct conv2d and gemm layers."""
    module, _ = resnet50(image=224)
    layers = set()
    for op in module.walk():
        if isinstance(op, nn.Conv2DOp):
            layers.add(("conv", tuple(op.input.type.get_shape()), tuple(op.weight.type.get_shape()),
                        nn.ints(op.strides), nn.ints(op.pads)))
        elif isinstance(op, nn.GemmOp):
            layers.add(("dense", op.lhs.type.get_shape()[0], op.lhs.type.get_shape()[1],
                        op.output.type.get_shape()[1]))
    return layers


def vgg16_layers() -> set[tuple]:
    layers, c, hw = set(), 3, 224
    for v in VGG16:
        if v == "M":
            hw //= 2
            continue
        layers.add(("conv", (1, c, hw, hw), (v, c, 3, 3), (1, 1), (1, 1, 1, 1)))
        c = v
    return layers | {("dense", 1, 25088, 4096), ("dense", 1, 4096, 4096), ("dense", 1, 4096, 1000)}


def layer_text(layer) -> str:
    """The layer alone (weights as inputs, a bias, the fused relu of the networks' convs)."""
    g = GraphBuilder()
    if layer[0] == "conv":
        _, x, w, strides, pads = layer
        y = g.add(nn.Conv2DOp(g.input("x", list(x)), g.input("w", list(w)), g.input("b", [w[0]]),
                              strides=strides, pads=pads), "layer")
        g.output("y", g.add(nn.ReluOp(y)))
    else:
        _, m, k, n = layer
        g.output("y", g.add(nn.GemmOp(g.input("x", [m, k]), g.input("w", [n, k]), g.input("b", [n]),
                                      trans_b=True), "layer"))
    return module_text(g.finish()[0])


LAYERS = sorted(resnet50_layers() | vgg16_layers())


def test_the_networks_have_the_expected_distinct_layers():
    assert len([layer for layer in resnet50_layers() if layer[0] == "conv"]) == 23
    assert len(LAYERS) == 23 + 1 + 9 + 3


def layer_id(layer) -> str:
    if layer[0] == "conv":
        _, (_, c, h, _), (o, _, k, _), (s, _), _ = layer
        return f"conv{k}x{k}_{c}to{o}_{h}x{h}_s{s}"
    return f"dense_{layer[2]}to{layer[3]}"


@pytest.mark.parametrize("layer", LAYERS, ids=layer_id)
def test_every_layer_compiles_on_rapid_4c(layer):
    program = compile_module(parse_module(layer_text(layer)), "rapid-4c")
    assert any(i.mnemonic.startswith("mpe.") for instrs in program.streams.values() for i in instrs)
