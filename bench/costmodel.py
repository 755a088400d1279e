"""Validating the cost model (`rapid_mlir.cost.predict`) against the emulator.

    python bench/costmodel.py [--size small|full] [--models resnet18,mlp] [--candidates 8]
                              [--space-candidates 3] [--machine rapid-4c] [--seed 0]
                              [--json OUT.json]

For every distinct conv2d / matmul layer of the zoo networks (the layers `convert-nn-to-tile`
sees after the nn stage, de-duplicated by problem shape, bias and activation), takes the
fixed mapping, `--space-candidates` candidates of the dse space drawn at random (what the
search ranks) and `--candidates` variants (`fuzz.mappings.variant_of`: random, serial,
small-tiles; duplicates dropped; for convs with few input channels also two `simd(kw,ic)`
candidates of the dse space), and for each predicts the cycles and emulates a
one-layer program compiled with that mapping pinned (`cost.harness`). The one-layer
program has nothing but the layer: its few cycles of start and end (`li`s, `halt`) are in
the model (2 scalar cycles).

Prints per layer kind the RMS, median and 90th percentile of the relative error
|predicted - emulated| / emulated, per layer the Spearman rank correlation between
predicted and emulated cycles over its candidates (mean and min over layers with at
least 3 distinct emulated values), and the wall time. Goals (issue 7): RMS under 10% on
conv and matmul layers, rank correlation at least 0.95.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def zoo_layers(names, size: str, machine: str):
    """{key: LayerSpec} of the distinct conv2d / matmul layers of the zoo models `names`."""
    from rapid_mlir.cost.harness import LayerSpec
    from rapid_mlir.frontend.onnx import import_onnx
    from rapid_mlir.models import zoo
    from rapid_mlir.pipeline import nn_stage
    from rapid_mlir.mapping.problem import with_residual
    from rapid_mlir.transforms.convert_nn_to_tile import defined_functions, fused_residual, layer_names, layer_problem

    out = {}
    for name in names:
        module, store = import_onnx(zoo.build(name, size))
        import tempfile
        from pathlib import Path
        with tempfile.TemporaryDirectory() as tmp:
            weights = str(Path(tmp) / "w.npz")
            store.save(weights)
            nn_stage(module, machine, weights)
        for fn in defined_functions(module):
            for op, layer in layer_names(fn).items():
                problem = layer_problem(op, f"{name}/{layer}")
                if problem is None or problem.kind not in ("conv2d", "matmul"):
                    continue
                act = _act(op)
                fused = fused_residual(op)
                if fused is not None:  # dse runs the residual add (and a relu after it) in the epilogue
                    problem, act = with_residual(problem), _act_after(fused[0])
                if problem.kind == "matmul" and problem.dims["b"] != 1:
                    continue
                spec = LayerSpec(problem, getattr(op, "bias", None) is not None, act)
                key = (problem.kind, tuple(problem.dims.items()), tuple(sorted(problem.params.items())),
                       spec.bias, spec.act)
                out.setdefault(key, spec)
    return out


def _act_after(add) -> str:
    """The activation of a residual add's sum: its only user when a relu or clip."""
    from rapid_mlir.dialects import nn

    users = [u.operation for u in add.results[0].uses]
    if len(users) == 1 and isinstance(users[0], nn.ReluOp):
        return "relu"
    return "clip" if len(users) == 1 and isinstance(users[0], nn.ClipOp) else "none"


def _act(op) -> str:
    lo, hi = (getattr(op, a, None) for a in ("act_min", "act_max"))
    if lo is None and hi is None:
        return "none"
    return "relu" if hi is None else "clip"


def candidates(problem, machine, count: int, rng, from_space: int = 0):
    """The fixed mapping, `from_space` candidates of the dse space drawn at random (what
    the search ranks), and variants up to `count` besides the fixed one; for a conv the
    dse space offers `simd(kw,ic)` (few input channels), also two such candidates of the
    space."""
    import itertools

    from rapid_mlir.fuzz.mappings import variant_of
    from rapid_mlir.mapping import space
    from rapid_mlir.mapping.fixed import fixed_mapping

    fixed = fixed_mapping(problem, machine)
    out = [fixed]
    if len(space.spatial_options(problem, machine)) > 1:
        folded = (m for m in space.candidates(problem, machine) if "kw" in m.simd)
        out += list(itertools.islice(folded, 2))
    if from_space:
        found = list(space.candidates(problem, machine))
        for i in rng.choice(len(found), size=min(from_space, len(found)), replace=False):
            if found[i] not in out:
                out.append(found[i])
    count += len(out) - 1
    kinds = ["serial", "small-tiles"] + ["random"] * (4 * count)
    for kind in kinds:
        if len(out) > count:
            break
        m = variant_of(problem, fixed, machine, kind, rng)
        if m not in out:
            out.append(m)
    return out


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    def ranks(x):
        x = np.asarray(x, dtype=float)
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for v in np.unique(x):
            r[x == v] = r[x == v].mean()
        return r
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=("small", "full"))
    parser.add_argument("--models", default="alexnet,vgg16,resnet18,resnet50,mobilenet_v2,mlp,bert_layer")
    parser.add_argument("--candidates", type=int, default=8, help="variants per layer besides the fixed mapping")
    parser.add_argument("--space-candidates", type=int, default=3,
                        help="candidates of the dse space per layer, drawn at random, besides those")
    parser.add_argument("--machine", default="rapid-4c")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-layers", type=int, default=0, help="stop after this many distinct layers (0: all)")
    parser.add_argument("--json", help="also write every measurement to this JSON file")
    args = parser.parse_args(argv)

    from rapid_mlir.cost import predict
    from rapid_mlir.cost.harness import emulate
    from rapid_mlir.machine import load_machine

    t0 = time.time()
    machine = load_machine(args.machine)
    rng = np.random.default_rng(args.seed)
    layers = zoo_layers(args.models.split(","), args.size, args.machine)
    specs = list(layers.values())[: args.max_layers or None]
    print(f"{len(specs)} distinct conv2d/matmul layers of {args.models} ({args.size}) on {machine.summary()}")
    rows, t_pred, t_emu = [], 0.0, 0.0
    for spec in specs:
        p = spec.problem
        for mapping in candidates(p, machine, args.candidates, rng, args.space_candidates):
            t = time.time()
            pred = predict(p, mapping, machine, bias=spec.bias, act=spec.act != "none")
            t_pred += time.time() - t
            t = time.time()
            try:
                cycles = emulate(spec, mapping, args.machine)
            except Exception as e:  # a mapping the lowering rejects: reported, not scored
                print(f"  {p.layer}: {mapping.to_text()}: {type(e).__name__}: {str(e)[:120]}")
                continue
            t_emu += time.time() - t
            rows.append({"layer": p.layer, "kind": p.kind, "dims": p.dims, "mapping": mapping.to_text(),
                         "predicted": pred.cycles, "emulated": cycles, "bound": pred.bound,
                         "error": (pred.cycles - cycles) / cycles})
    report(rows)
    print(f"time: {time.time() - t0:.1f} s (predict {t_pred:.1f} s, compile + emulate {t_emu:.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def report(rows) -> None:
    """Prints the error distribution per kind and the rank correlations per layer."""
    print(f"\n{'kind':8s} {'layers':>6s} {'cands':>6s} {'RMS':>7s} {'median':>7s} {'p90':>7s} {'max':>7s} "
          f"{'rho mean':>8s} {'rho min':>8s}")
    for kind in ("conv2d", "matmul", "all"):
        sel = [r for r in rows if kind in ("all", r["kind"])]
        if not sel:
            continue
        err = np.abs([r["error"] for r in sel])
        rhos = []
        for layer in dict.fromkeys(r["layer"] for r in sel):
            mine = [r for r in sel if r["layer"] == layer]
            if len({r["emulated"] for r in mine}) >= 3:
                rhos.append(spearman([r["predicted"] for r in mine], [r["emulated"] for r in mine]))
        rho_mean = f"{np.mean(rhos):8.3f}" if rhos else "       -"
        rho_min = f"{np.min(rhos):8.3f}" if rhos else "       -"
        print(f"{kind:8s} {len({r['layer'] for r in sel}):6d} {len(sel):6d} {np.sqrt(np.mean(err ** 2)):7.2%} "
              f"{np.median(err):7.2%} {np.percentile(err, 90):7.2%} {err.max():7.2%} {rho_mean} {rho_min}")
    worst = sorted(rows, key=lambda r: -abs(r["error"]))[:5]
    print("\nworst predictions:")
    for r in worst:
        print(f"  {r['error']:+7.2%} pred {r['predicted']:>9d} emu {r['emulated']:>9d} {r['bound']:11s} "
              f"{r['layer']}: {r['mapping']}")


if __name__ == "__main__":
    sys.exit(main())
