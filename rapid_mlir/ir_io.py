"""Reading and writing `.mlir` files with every rapid_mlir dialect loaded."""

from __future__ import annotations

import os
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException

from rapid_mlir.dialects import make_context
from rapid_mlir.tools.errors import InputError, describe


def parse_module(text: str, name: str = "<string>", verify: bool = True) -> ModuleOp:
    """Parses (and by default verifies) a module; errors name the source."""
    module = Parser(make_context(), text, name).parse_module()
    if verify:
        try:
            module.verify()
        except DiagnosticException as e:
            raise InputError(f"{name}: {describe(e)}") from None
    return module


def read_module(path: str | os.PathLike, verify: bool = True) -> ModuleOp:
    """Reads and verifies a `.mlir` file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    return parse_module(text, str(path), verify)


def module_text(module: ModuleOp, generic: bool = False) -> str:
    """The module in custom (or generic) syntax, newline-terminated."""
    import io

    out = io.StringIO()
    Printer(stream=out, print_generic_format=generic).print_op(module)
    return out.getvalue() + "\n"


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Writes a file via a temporary sibling, so a failure never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
