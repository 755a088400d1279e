"""The project's dialects, and the upstream ones its IR uses, as a lazy name -> factory table."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.context import Context
from xdsl.ir import Dialect

from rapid_mlir import xdsl_fixes

xdsl_fixes.apply()


def _nn() -> Dialect:
    from rapid_mlir.dialects.nn import NN

    return NN


def _rapid_isa() -> Dialect:
    from rapid_mlir.dialects.rapid_isa import RapidIsa

    return RapidIsa


def _rapid_tile() -> Dialect:
    from rapid_mlir.dialects.rapid_tile import RapidTile

    return RapidTile


def _rapid_mem() -> Dialect:
    from rapid_mlir.dialects.rapid_mem import RapidMem

    return RapidMem


def project_dialects() -> dict[str, Callable[[], Dialect]]:
    """The dialects rapid_mlir defines (exported through the xdsl.universe entry point)."""
    return {"nn": _nn, "rapid_tile": _rapid_tile, "rapid_mem": _rapid_mem, "rapid_isa": _rapid_isa}


def upstream_dialects() -> dict[str, Callable[[], Dialect]]:
    """The upstream xDSL dialects that appear in our IR and tests."""

    def builtin():
        from xdsl.dialects.builtin import Builtin

        return Builtin

    def func():
        from xdsl.dialects.func import Func

        return Func

    def arith():
        from xdsl.dialects.arith import Arith

        return Arith

    def scf():
        from xdsl.dialects.scf import Scf

        return Scf

    def tensor():
        from xdsl.dialects.tensor import Tensor

        return Tensor

    def test():
        from xdsl.dialects.test import Test

        return Test

    return {"builtin": builtin, "func": func, "arith": arith, "scf": scf, "tensor": tensor, "test": test}


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    return upstream_dialects() | project_dialects()


def make_context(allow_unregistered: bool = False) -> Context:
    """A context that lazily knows every dialect rapid_mlir reads or writes."""
    ctx = Context(allow_unregistered=allow_unregistered)
    for name, factory in all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx
