"""Mapping variants for the fuzzer's metamorphic oracle.

A graph compiled with any legal mapping must compute the same outputs. `pinned_mappings`
writes a mapping file (layer name -> mapping) that pins every device layer of a module
to a variant of what the fixed strategy picks:

- `serial`: one core, one corelet, single-buffered tiles;
- `small-tiles`: the MPE layers' LX tiles halved (not below the L0 tile; kernel
  windows stay whole);
- `random`: for the MPE layers, a random legal mapping near the fixed one: random
  core and corelet splits (uneven ones included) over the dimensions the lowering
  splits, random L0 tiles up to the fixed ones (ragged ones included), random LX tiles
  from the L0 tile to the whole extent (reduction tiles too, so partial sums stay in
  ACC), a random order of the output loops, single or double buffering; for the SFU
  and DMA layers, sometimes one core and single buffering. Every candidate is checked
  with `Mapping.validate` and `check_fits`; a layer whose draws all fail keeps the
  fixed mapping.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import Problem

VARIANTS = ("serial", "small-tiles", "random")

SPLIT_DIMS = {"conv2d": (("oc", "g", "oh"), ("oh", "oc")), "matmul": (("n", "m"), ("m", "n"))}
"""Per MPE problem kind: the dimensions split over cores, and over corelets (those the
lowering splits with any part count)."""

WHOLE_DIMS = ("kh", "kw")
"""Kernel windows are not tiled in LX."""

UNIT_DIMS = ("n", "g", "b")
"""Images, groups and matrix batches are one per LX tile."""


def pinned_mappings(module: ModuleOp, machine: str, variant: str, seed: int = 0,
                    weights: str | None = None) -> dict[str, dict]:
    """The mapping file of `variant` (see the module docstring) for `module` (whose weight
    file is `weights`) on `machine`; `seed` draws the `random` variant."""
    from rapid_mlir.machine import load_machine
    from rapid_mlir.mapping.fixed import fixed_mapping
    from rapid_mlir.pipeline import nn_stage
    from rapid_mlir.transforms.convert_nn_to_tile import defined_functions, layer_names, layer_problem

    if variant not in VARIANTS:
        raise ValueError(f"unknown mapping variant '{variant}' (expected one of {', '.join(VARIANTS)})")
    desc = load_machine(machine)
    rng = np.random.default_rng(seed)
    module = module.clone()
    nn_stage(module, machine, weights)  # the layers convert-nn-to-tile sees
    out = {}
    for fn in defined_functions(module):
        for op, name in layer_names(fn).items():
            problem = layer_problem(op, name)
            if problem is None:
                continue
            fixed = fixed_mapping(problem, desc)
            out[name] = variant_of(problem, fixed, desc, variant, rng).to_dict()
    return out


def variant_of(problem: Problem, m: Mapping, machine, variant: str, rng: np.random.Generator) -> Mapping:
    """One layer's mapping under `variant`."""
    if variant == "serial":
        return dataclasses.replace(m, cores={}, corelets={}, double_buffer=False)
    if variant == "small-tiles":
        if not m.l0:  # vector and copy layers keep some dimensions whole
            return m
        return dataclasses.replace(m, lx={d: v if d in WHOLE_DIMS else max(m.l0.get(d, 1), -(-v // 2))
                                          for d, v in m.lx.items()})
    if problem.kind not in SPLIT_DIMS:
        if rng.random() < 0.5:
            return m
        return dataclasses.replace(m, cores={}, corelets={}, double_buffer=bool(rng.random() < 0.5))
    for _ in range(20):
        candidate = _random_mpe(problem, m, machine, rng)
        if _legal(problem, candidate, machine):
            return candidate
    return m


def _random_mpe(problem: Problem, m: Mapping, machine, rng: np.random.Generator) -> Mapping:
    core_dims, corelet_dims = SPLIT_DIMS[problem.kind]
    dims = problem.dims
    cores = _random_split({d: dims[d] for d in core_dims if d in dims}, machine.cores, rng)
    per_core = {d: -(-e // cores.get(d, 1)) for d, e in dims.items()}
    corelets = _random_split({d: per_core[d] for d in corelet_dims if d in dims},
                             machine.corelets_per_core, rng)
    base = dataclasses.replace(m, cores=cores, corelets=corelets)
    extent = {d: base.per_corelet_extent(problem, d) for d in dims}
    l0 = {d: int(rng.integers(1, min(v, extent[d]) + 1)) for d, v in m.l0.items()}
    lx = {d: extent[d] if d in WHOLE_DIMS else 1 if d in UNIT_DIMS
          else int(rng.integers(min(l0.get(d, 1), extent[d]), extent[d] + 1)) for d in dims}
    outer = [d for d in m.order if d not in problem.reduction]
    inner = [d for d in m.order if d in problem.reduction]
    order = tuple(outer[i] for i in rng.permutation(len(outer))) + tuple(inner)
    return dataclasses.replace(base, l0=l0, lx=lx, order=order, double_buffer=bool(rng.random() < 0.5))


def _random_split(extents: dict[str, int], workers: int, rng: np.random.Generator) -> dict[str, int]:
    """Parts of one random dimension (the lowering splits one dimension per level), at
    most its extent and `workers`; sometimes none."""
    if not extents or rng.random() < 0.25:
        return {}
    d = str(rng.choice(list(extents)))
    parts = int(rng.integers(1, min(extents[d], workers) + 1))
    return {d: parts} if parts > 1 else {}


def _legal(problem: Problem, mapping: Mapping, machine) -> bool:
    from rapid_mlir.mapping.footprint import check_fits

    try:
        mapping.validate(problem)
        check_fits(problem, mapping, machine)
    except MappingError:
        return False
    return True
