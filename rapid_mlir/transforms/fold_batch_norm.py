"""`fold-batch-norm`: folds an inference batch norm into the conv or gemm that feeds it.

    rapid-opt net.mlir -p 'fold-batch-norm,fold-constants{weights="net.npz" weights-out="out.npz"}'

`batch_norm(conv(x, W, b))` with per-channel scale g, shift β, mean μ and variance v is
the conv with

    s  = g / sqrt(v + eps)                 (one factor per output channel)
    W' = W * s[:, None, None, None]        (each output channel's filter scaled)
    b' = (b - μ) * s + β                   (b = 0 when the conv has no bias)

and likewise for a gemm whose [M, N] result the batch norm normalises per column (axis
1): `B' = B * s` along N (rows of B with trans_b, columns without) and
`C' = (beta*C - μ) * s + β` with the gemm's beta becoming 1; alpha stays on the product.

The pass writes W', b' (C') as `nn` ops on the original operands (named `<layer>.bn_*`)
and leaves their evaluation to `fold-constants`, so it needs no weight file and its
result is exact in any case: when the weights are not known at compile time the device
computes the few per-channel ops. It folds only when the conv/gemm result has no user
but the batch norm, has no fused activation, and runs on the device (not `nn.host`); the
new conv/gemm keeps the conv's name and takes the batch norm's place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import FloatAttr, ModuleOp, StringAttr, f32
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import ssa_name
from rapid_mlir.transforms.host_lowering import HOST_ATTR

_ACTIVATION_PROPS = ("act_min", "act_max")


@dataclass(frozen=True)
class FoldBatchNormPass(ModulePass):
    """Folds `nn.batch_norm` of a conv2d or gemm result into that op's weights and bias."""

    name = "fold-batch-norm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([FoldIntoConv(), FoldIntoGemm()]),
                             apply_recursively=False).rewrite_module(op)


def foldable_producer(bn: nn.BatchNormOp, kind: type[Operation]) -> Operation | None:
    """The op of type `kind` whose only user is `bn`, in its block, on the device, with
    no fused activation (a clamp before the normalisation does not commute with it)."""
    producer = bn.input.owner
    if not isinstance(producer, kind) or bn.input.uses.get_length() != 1:
        return None
    if HOST_ATTR in producer.attributes or HOST_ATTR in bn.attributes:
        return None
    if any(p in producer.properties for p in _ACTIVATION_PROPS):
        return None
    return producer if producer.parent_block() is bn.parent_block() else None


class _Emitter:
    """Inserts the folding's named `nn` ops before the batch norm."""

    def __init__(self, rewriter: PatternRewriter, layer: str):
        self.rewriter, self.layer = rewriter, layer

    def op(self, new: Operation, suffix: str) -> SSAValue:
        if self.layer:
            new.attributes[nn.NAME_ATTR] = StringAttr(f"{self.layer}.{suffix}")
            new.results[0].name_hint = ssa_name(f"{self.layer}.{suffix}")
        self.rewriter.insert(new)
        return new.results[0]

    def channel_scale(self, bn: nn.BatchNormOp) -> SSAValue:
        """s = scale / sqrt(var + eps), one value per channel."""
        eps = self.op(nn.ConstantOp.from_numpy(np.float32(bn.epsilon.value.data)), "bn_eps")
        std = self.op(nn.SqrtOp(self.op(nn.AddOp(bn.var, eps), "bn_var_eps")), "bn_std")
        return self.op(nn.DivOp(bn.scale, std), "bn_scale")

    def shift(self, bias: SSAValue | None, bn: nn.BatchNormOp, s: SSAValue) -> SSAValue:
        """(bias - mean) * s + shift, or shift - mean * s without a bias."""
        if bias is None:
            return self.op(nn.SubOp(bn.bias, self.op(nn.MulOp(bn.mean, s), "bn_mean_scaled")), "bn_bias")
        centred = self.op(nn.SubOp(bias, bn.mean), "bn_centred")
        return self.op(nn.AddOp(self.op(nn.MulOp(centred, s), "bn_centred_scaled"), bn.bias), "bn_bias")


def _replace(rewriter: PatternRewriter, bn: nn.BatchNormOp, old: Operation, new: Operation) -> None:
    new.properties.update({k: v for k, v in old.properties.items() if k not in ("alpha", "beta")})
    new.attributes.update(old.attributes)
    rewriter.insert(new)
    new.results[0].name_hint = old.results[0].name_hint
    rewriter.replace(bn, [], [new.results[0]])
    rewriter.erase(old)


def _layer(op: Operation) -> str:
    name = op.attributes.get(nn.NAME_ATTR)
    return name.data if isinstance(name, StringAttr) else ""


class FoldIntoConv(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, bn: nn.BatchNormOp, rewriter: PatternRewriter) -> None:
        conv = foldable_producer(bn, nn.Conv2DOp)
        if conv is None:
            return
        out_channels = conv.weight.type.get_shape()[0]
        e = _Emitter(rewriter, _layer(conv))
        s = e.channel_scale(bn)
        s4 = e.op(nn.ReshapeOp(s, [out_channels, 1, 1, 1]), "bn_scale_oihw")
        weight = e.op(nn.MulOp(conv.weight, s4), "bn_weight")
        bias = e.shift(conv.bias, bn, s)
        new = nn.Conv2DOp(conv.input, weight, bias, strides=nn.ints(conv.strides),
                          pads=nn.ints(conv.pads), dilations=nn.ints(conv.dilations),
                          groups=conv.groups.value.data)
        _replace(rewriter, bn, conv, new)


class FoldIntoGemm(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, bn: nn.BatchNormOp, rewriter: PatternRewriter) -> None:
        gemm = foldable_producer(bn, nn.GemmOp)
        if gemm is None or len(gemm.output.type.get_shape()) != 2:
            return
        e = _Emitter(rewriter, _layer(gemm))
        s = e.channel_scale(bn)
        trans_b = gemm.trans_b is not None
        # B is [N, K] with trans_b (scale its rows), else [K, N] (its columns: s broadcasts)
        s_b = e.op(nn.ReshapeOp(s, [s.type.get_shape()[0], 1]), "bn_scale_rows") if trans_b else s
        rhs = e.op(nn.MulOp(gemm.rhs, s_b), "bn_weight")
        bias = gemm.bias
        beta = gemm.beta.value.data
        if bias is not None and beta != 1.0:
            bias = e.op(nn.MulOp(bias, e.op(nn.ConstantOp.from_numpy(np.float32(beta)), "bn_beta")), "bn_beta_c")
        shift = e.shift(bias, bn, s)  # [N], or [M, N] for a full bias
        new = nn.GemmOp(gemm.lhs, rhs, shift, trans_a=gemm.trans_a is not None, trans_b=trans_b,
                        alpha=gemm.alpha.value.data, beta=1.0)
        new.properties["alpha"] = gemm.alpha
        new.properties["beta"] = FloatAttr(1.0, f32)
        _replace(rewriter, bn, gemm, new)
