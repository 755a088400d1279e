"""Reading and writing `.mlir` files with every rapid_mlir dialect loaded."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException

from rapid_mlir.dialects import make_context
from rapid_mlir.tools.errors import InputError, describe


def not_utf8(name: str, e: UnicodeDecodeError) -> InputError:
    """The error for a text file that is not UTF-8, naming the file and the bad byte."""
    return InputError(f"{name}: not a UTF-8 text file (byte {e.object[e.start]:#04x} at offset {e.start})")


def parse_checked(parser: Parser, implicit_module: bool = True) -> ModuleOp:
    """`parser.parse_module()`, with the exceptions xDSL 0.74 lets escape for literals
    out of range of their type (`2**64 : i64`, `1e308 : f32`, found by
    `rapid_mlir.fuzz.mutate`) turned into a ParseError at the offending place."""
    try:
        return parser.parse_module(implicit_module)
    except (struct.error, OverflowError) as e:
        parser.raise_error(f"value out of range for its type ({e})")


def parse_module(text: str, name: str = "<string>", verify: bool = True) -> ModuleOp:
    """Parses (and by default verifies) a module; errors name the source."""
    module = parse_checked(Parser(make_context(), text, name))
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
    except UnicodeDecodeError as e:
        raise not_utf8(str(path), e) from None
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
