"""Sequence models as ONNX models: an LSTM language model, a GRU classifier and one
BERT encoder layer.

Recurrent weights are in ONNX's layout and gate order, which is what the exporter writes
after reordering PyTorch's: W [dirs, G*H, in], R [dirs, G*H, H], B [dirs, 2*G*H] (the
input biases, then the recurrent ones), gates i, o, f, c for LSTM and z, r, h for GRU.
They are uniform in +-1/sqrt(H) like PyTorch's defaults; PyTorch exports a GRU with
`linear_before_reset=1`, and so does this module.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from rapid_mlir.models.onnx_graph import OnnxGraph


def _rnn_weights(g: OnnxGraph, scope: str, gates: int, fin: int, hidden: int, dirs: int) -> list[str]:
    """W, R and B of one recurrent layer."""
    bound = 1.0 / np.sqrt(hidden)
    return [g.init(f"{scope}.W", g.uniform((dirs, gates * hidden, fin), bound)),
            g.init(f"{scope}.R", g.uniform((dirs, gates * hidden, hidden), bound)),
            g.init(f"{scope}.B", g.uniform((dirs, 2 * gates * hidden), bound))]


def _layer_state(g: OnnxGraph, state: str, layer: int, scope: str) -> str:
    """Layer `layer`'s [1, batch, H] slice of a stacked [layers, batch, H] state input."""
    return g.node("Slice", [state, g.const(f"slice.start.{layer}", [layer], np.int64),
                            g.const(f"slice.end.{layer}", [layer + 1], np.int64),
                            g.const("slice.axes.0", [0], np.int64)], scope)


def lstm_lm(seed: int = 0, batch: int = 1, seq: int = 35, vocab: int = 10000, embed: int = 650, hidden: int = 650,
            layers: int = 2) -> onnx.ModelProto:
    """A word-level LSTM language model over one window of `seq` tokens (PyTorch's
    examples/word_language_model, "medium" PTB size in full): `nn.Embedding` (Gather),
    `layers` stacked LSTMs starting from the given states, `nn.Linear` to the vocabulary
    on the flattened [seq * batch, hidden] outputs (Gemm, transB=1).

    Inputs `tokens` [seq, batch] int64, `h0` and `c0` [layers, batch, hidden]; outputs
    `logits` [seq * batch, vocab], `hn` and `cn` [layers, batch, hidden]."""
    g = OnnxGraph("lstm_lm", seed)
    tokens = g.input("tokens", [seq, batch], TensorProto.INT64)
    h0, c0 = g.input("h0", [layers, batch, hidden]), g.input("c0", [layers, batch, hidden])
    # PyTorch's nn.Embedding draws from N(0, 1); the LSTM's sigmoids and tanhs keep that in range.
    table = g.init("encoder.weight", g.rng.normal(0.0, 1.0, (vocab, embed)))
    x = g.node("Gather", [table, tokens], "encoder", axis=0)
    last_h, last_c = [], []
    fin = embed
    for layer in range(layers):
        scope = f"rnn.l{layer}"
        w, r, b = _rnn_weights(g, scope, 4, fin, hidden, 1)
        states = [_layer_state(g, s, layer, scope) for s in (h0, c0)]
        y, yh, yc = g.node("LSTM", [x, w, r, b, "", *states], scope, outputs=3, hidden_size=hidden,
                           direction="forward")
        # Y is [seq, dirs, batch, H]; the next layer takes [seq, batch, H].
        x = g.node("Squeeze", [y, g.const("squeeze.axes.1", [1], np.int64)], scope)
        last_h.append(yh)
        last_c.append(yc)
        fin = hidden
    x = g.node("Reshape", [x, g.const("decoder.shape", [-1, hidden], np.int64)], "decoder")
    logits = g.linear(x, "decoder", hidden, vocab)
    hn = g.node("Concat", last_h, "rnn.hn", axis=0) if layers > 1 else last_h[0]
    cn = g.node("Concat", last_c, "rnn.cn", axis=0) if layers > 1 else last_c[0]
    return g.finish({"logits": logits, "hn": hn, "cn": cn})


def gru_classifier(seed: int = 0, batch: int = 1, seq: int = 32, features: int = 80, hidden: int = 256,
                   classes: int = 35) -> onnx.ModelProto:
    """A bidirectional GRU over `seq` frames of `features` (a keyword spotter on log-mel
    frames in full: 35 Speech Commands words), the two directions' last states
    concatenated and a dense layer to `classes`.

    Input `input` [seq, batch, features]; output `logits` [batch, classes]."""
    g = OnnxGraph("gru_classifier", seed)
    x = g.input("input", [seq, batch, features])
    w, r, b = _rnn_weights(g, "gru", 3, features, hidden, 2)
    _, yh = g.node("GRU", [x, w, r, b], "gru", outputs=2, hidden_size=hidden, direction="bidirectional",
                   linear_before_reset=1)
    # torch.cat((h_n[0], h_n[1]), dim=1): [2, batch, H] -> [batch, 2, H] -> [batch, 2H].
    yh = g.node("Transpose", [yh], "gru", perm=[1, 0, 2])
    yh = g.node("Reshape", [yh, g.const("fc.shape", [batch, 2 * hidden], np.int64)], "gru")
    return g.finish({"logits": g.linear(yh, "fc", 2 * hidden, classes)})


def _gelu_erf(g: OnnxGraph, x: str, scope: str) -> str:
    """GELU as PyTorch exports it before opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    e = g.node("Erf", [g.node("Div", [x, g.const("gelu.sqrt2", np.sqrt(2.0))], scope)], scope)
    y = g.node("Mul", [x, g.node("Add", [e, g.const("gelu.one", 1.0)], scope)], scope)
    return g.node("Mul", [y, g.const("gelu.half", 0.5)], scope)


def _layer_norm(g: OnnxGraph, x: str, scope: str, hidden: int) -> str:
    gamma = g.init(f"{scope}.weight", g.rng.uniform(0.9, 1.1, hidden))
    beta = g.init(f"{scope}.bias", g.small_bias(hidden))
    return g.node("LayerNormalization", [x, gamma, beta], scope, axis=-1, epsilon=1e-12)


def _heads(g: OnnxGraph, x: str, scope: str, shape: str, perm: list[int]) -> str:
    """[batch, seq, hidden] -> [batch, heads, seq, head_dim] (or, for keys,
    [batch, heads, head_dim, seq]: BERT's transpose(-1, -2) folded into the permutation)."""
    return g.node("Transpose", [g.node("Reshape", [x, shape], scope)], scope, perm=perm)


def bert_layer(seed: int = 0, batch: int = 1, seq: int = 128, hidden: int = 768, heads: int = 12,
               ffn: int = 3072) -> onnx.ModelProto:
    """One BERT encoder layer (post-LayerNorm, as in BERT-base): multi-head self-attention
    (Q, K, V projections, scores divided by sqrt(head_dim), softmax, the weighted sum,
    the output projection), residual and LayerNorm, then the feed-forward block with an
    erf GELU, residual and LayerNorm. No attention mask (every position is valid).

    Input `hidden_states` [batch, seq, hidden]; output `output` [batch, seq, hidden]."""
    head_dim = hidden // heads
    g = OnnxGraph("bert_layer", seed)
    x = g.input("hidden_states", [batch, seq, hidden])
    split = g.const("attention.heads_shape", [batch, seq, heads, head_dim], np.int64)
    a = "attention.self"
    q = _heads(g, g.linear_3d(x, f"{a}.query", hidden, hidden), f"{a}.query", split, [0, 2, 1, 3])
    k = _heads(g, g.linear_3d(x, f"{a}.key", hidden, hidden), f"{a}.key", split, [0, 2, 3, 1])
    v = _heads(g, g.linear_3d(x, f"{a}.value", hidden, hidden), f"{a}.value", split, [0, 2, 1, 3])
    scores = g.node("Div", [g.node("MatMul", [q, k], a), g.const(f"{a}.scale", np.sqrt(head_dim))], a)
    ctx = g.node("MatMul", [g.node("Softmax", [scores], a, axis=-1), v], a)
    ctx = g.node("Transpose", [ctx], a, perm=[0, 2, 1, 3])
    ctx = g.node("Reshape", [ctx, g.const(f"{a}.merge_shape", [batch, seq, hidden], np.int64)], a)
    o = "attention.output"
    x = _layer_norm(g, g.node("Add", [g.linear_3d(ctx, f"{o}.dense", hidden, hidden), x], o),
                    f"{o}.LayerNorm", hidden)
    h = _gelu_erf(g, g.linear_3d(x, "intermediate.dense", hidden, ffn), "intermediate.intermediate_act_fn")
    y = g.node("Add", [g.linear_3d(h, "output.dense", ffn, hidden), x], "output")
    return g.finish({"output": _layer_norm(g, y, "output.LayerNorm", hidden)})
