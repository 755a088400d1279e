"""The passes `rapid-opt` knows, as a lazy name -> pass-class table.

Project passes live one per file in this package (a frozen dataclass whose `name` is
its kebab-case pipeline name); the upstream passes our pipelines rely on are listed
beside them.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.passes import ModulePass


GRAPH_PASSES = (
    ("raise-decomposed-ops", "raise_decomposed_ops", "RaiseDecomposedOpsPass"),
    ("fold-reshapes", "fold_reshapes", "FoldReshapesPass"),
    ("fold-batch-norm", "fold_batch_norm", "FoldBatchNormPass"),
    ("fuse-bias-activation", "fuse_bias_activation", "FuseBiasActivationPass"),
    ("fold-constants", "fold_constants", "FoldConstantsPass"),
)
"""The nn-level graph optimisations (docs/graph-passes.md): (pipeline name, module in
this package, class), in the order the compile pipeline runs them."""


def _lazy(module: str, cls: str) -> Callable[[], type[ModulePass]]:
    def load() -> type[ModulePass]:
        import importlib

        return getattr(importlib.import_module(f"rapid_mlir.transforms.{module}"), cls)

    return load


def project_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """The passes rapid_mlir defines (exported through the xdsl.universe entry point)."""

    def decompose_rnn():
        from rapid_mlir.transforms.decompose_rnn import DecomposeRnnPass

        return DecomposeRnnPass

    def legalize_nn():
        from rapid_mlir.transforms.legalize_nn import LegalizeNnPass

        return LegalizeNnPass

    def convert_nn_to_tile():
        from rapid_mlir.transforms.convert_nn_to_tile import ConvertNnToTilePass

        return ConvertNnToTilePass

    def convert_tile_to_mem():
        from rapid_mlir.transforms.convert_tile_to_mem import ConvertTileToMemPass

        return ConvertTileToMemPass

    def rapid_mem_allocate():
        from rapid_mlir.transforms.rapid_mem_allocate import RapidMemAllocatePass

        return RapidMemAllocatePass

    def convert_mem_to_isa():
        from rapid_mlir.transforms.convert_mem_to_isa import ConvertMemToIsaPass

        return ConvertMemToIsaPass

    graph = {name: _lazy(module, cls) for name, module, cls in GRAPH_PASSES}
    return graph | {"decompose-rnn": decompose_rnn, "legalize-nn": legalize_nn,
            "convert-nn-to-tile": convert_nn_to_tile, "convert-tile-to-mem": convert_tile_to_mem,
            "rapid-mem-allocate": rapid_mem_allocate,
            "convert-mem-to-isa": convert_mem_to_isa}


def upstream_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Upstream xDSL passes that are useful on nn IR."""

    def canonicalize():
        from xdsl.transforms.canonicalize import CanonicalizePass

        return CanonicalizePass

    def cse():
        from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

        return CommonSubexpressionElimination

    def dce():
        from xdsl.transforms.dead_code_elimination import DeadCodeElimination

        return DeadCodeElimination

    return {"canonicalize": canonicalize, "cse": cse, "dce": dce}


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    return upstream_passes() | project_passes()
