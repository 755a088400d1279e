"""Turning exceptions into the one-paragraph messages our command-line tools print.

Every tool's `main` runs its work under `report_errors`: an expected error (bad
input text, a verifier failure, a bad pipeline, a missing file, a weight or input
mismatch) becomes `TOOL: error: MESSAGE` on stderr and exit code 1, never a
traceback. Unexpected exceptions still print a short message that says it is an
internal error, with the exception type, so it can be reported.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from xdsl.utils.exceptions import DiagnosticException, ParseError

class InputError(ValueError):
    """An error in what the user gave a tool, with its message ready to print."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    ParseError,
    DiagnosticException,
    OSError,
    ValueError,
    KeyError,
)


def _marked_op(exc: BaseException) -> str | None:
    """The IR line xDSL marks in a diagnostic's note (the op the error is about)."""
    for note in getattr(exc, "__notes__", []):
        lines = note.splitlines()
        for i, line in enumerate(lines):
            if re.fullmatch(r"\s*\^+-*", line) and i > 0:
                return lines[i - 1].strip()
    return None


def describe(exc: BaseException) -> str:
    """The user-facing text of an error: its message, plus the offending op if known."""
    if isinstance(exc, ParseError):
        return str(exc).strip()
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    if isinstance(exc, DiagnosticException):
        op = _marked_op(exc)
        if op is not None and op not in text:
            text += f"\n  in: {op}"
    return text


def report_errors(tool: str, work: Callable[[], int | None]) -> int:
    """Runs `work`, mapping errors to a message on stderr and exit code 1."""
    try:
        return work() or 0
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse's own usage errors: already printed
        return e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # noqa: BLE001 - the point is never to show a traceback
        if is_user_error(e):
            print(f"{tool}: error: {describe(e)}", file=sys.stderr)
        else:
            print(f"{tool}: internal error ({type(e).__name__}): {e}. Please report this "
                  "with the input that caused it.", file=sys.stderr)
        return 1


def is_user_error(exc: BaseException) -> bool:
    """Errors caused by the input (as opposed to a bug in the tool)."""
    # xDSL's ArgSpecParseError (a malformed pipeline) derives from BaseException.
    return isinstance(exc, USER_ERRORS) or type(exc).__name__ == "ArgSpecParseError"
