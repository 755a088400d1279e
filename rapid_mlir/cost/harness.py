"""One layer on the emulator: the ground truth the cost model is validated against.

This is the IR side of `rapid_mlir.cost` (the model itself, `model.py`, touches no IR):
`layer_module` writes a module of just one conv2d or matmul layer from its `Problem`,
`emulate` compiles it with a pinned mapping (a mapping file naming the layer) and runs
it on the emulator, returning the cycles. Used by `bench/costmodel.py` and the tests.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.mapping.problem import Problem

LAYER = "layer"
"""The name of the one layer of a `layer_module`."""


@dataclass(frozen=True)
class LayerSpec:
    """A conv2d or matmul layer as the bench rebuilds it: its problem, whether it adds a
    bias and its fused activation ("none", "relu" or "clip"; after the residual add of a
    conv2d problem with one, `params["residual"]`, which the dse strategy fuses)."""

    problem: Problem
    bias: bool = True
    act: str = "relu"


def layer_module(spec: LayerSpec, seed: int = 0):
    """(module, weight store) of a one-layer network computing `spec` (named `LAYER`)."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder

    p, rng = spec.problem, np.random.default_rng(seed)
    act = {"none": {}, "relu": {"act_min": 0.0}, "clip": {"act_min": 0.0, "act_max": 6.0}}[spec.act]
    g = GraphBuilder()
    if p.kind == "conv2d":
        d, q = p.dims, p.params
        x = g.input("x", [d["n"], d["g"] * d["ic"], q["in_h"], q["in_w"]])
        fan_in = d["ic"] * d["kh"] * d["kw"]
        w = g.constant("w", rng.standard_normal((d["g"] * d["oc"], d["ic"], d["kh"], d["kw"]))
                       / np.sqrt(fan_in))
        b = g.constant("b", rng.standard_normal(d["g"] * d["oc"]) * 0.1) if spec.bias else None
        residual = bool(q.get("residual"))
        y = g.add(nn.Conv2DOp(x, w, b, strides=(q["stride_h"], q["stride_w"]),
                              pads=(q["pad_t"], q["pad_l"], q["pad_b"], q["pad_r"]),
                              dilations=(q["dil_h"], q["dil_w"]), groups=d["g"],
                              **({} if residual else act)), name=LAYER)
        if residual:  # a residual add (an input of the output's shape), then the activation
            r = g.input("r", [d["n"], d["g"] * d["oc"], d["oh"], d["ow"]])
            y = g.add(nn.AddOp(y, r))
            if spec.act == "relu":
                y = g.add(nn.ReluOp(y))
            elif spec.act == "clip":
                y = g.add(nn.ClipOp(y, 0.0, 6.0))
    elif p.kind == "matmul":
        d = p.dims
        if d["b"] != 1:
            raise ValueError(f"layer '{p.layer}': batched matmul (b={d['b']}) is not rebuilt")
        x = g.input("x", [d["m"], d["k"]])
        w = g.constant("w", rng.standard_normal((d["k"], d["n"])) / np.sqrt(d["k"]))
        b = g.constant("b", rng.standard_normal(d["n"]) * 0.1) if spec.bias else None
        y = g.add(nn.GemmOp(x, w, b, **act), name=LAYER)
    else:
        raise ValueError(f"layer '{p.layer}': kind {p.kind} is not rebuilt")
    g.output("y", y)
    return g


def compile_layer(spec: LayerSpec, mapping: Mapping | None, machine: str, workdir: str):
    """The program of `spec`'s one-layer module with `mapping` pinned (None: fixed)."""
    from rapid_mlir.pipeline import compile_module

    g = layer_module(spec)
    weights = str(Path(workdir) / "w.npz")
    module, store = g.finish(weights)
    store.save(weights)
    mapping_file = None
    if mapping is not None and spec.problem.params.get("residual"):
        mapping = replace(mapping, residual_add=True)  # the add runs in the conv's epilogue
    if mapping is not None:
        mapping_file = str(Path(workdir) / "mapping.json")
        Path(mapping_file).write_text(json.dumps({LAYER: mapping.to_dict()}))
    return compile_module(module, machine, mapping_file, weights=weights)


def emulate(spec: LayerSpec, mapping: Mapping | None, machine: str) -> int:
    """Emulated cycles of `spec` under `mapping` on `machine` (race checks off)."""
    from rapid_mlir.runtime import load

    with tempfile.TemporaryDirectory(prefix="rapid-cost-") as tmp:
        program = compile_layer(spec, mapping, machine, tmp)
    return load(program).run(check_races=False).cycles
