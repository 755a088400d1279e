"""Work-arounds for problems of the pinned xDSL version that bad input can trigger.

`apply()` is idempotent and runs when `rapid_mlir.dialects` is imported, i.e. before
any of our tools parses text.

- xDSL 0.74's MLIR lexer matches string literals with `"(?:[^"\\\n\v\f]+|...)*"`, a
  nested quantifier that backtracks exponentially on an unterminated string: one stray
  `"` in a long line of a `.mlir` file made the parser run for minutes (found by
  `rapid_mlir.fuzz.mutate`). The same pattern with possessive quantifiers accepts the
  same strings and fails in linear time.
"""

from __future__ import annotations

import re

from xdsl.utils.mlir_lexer import MLIRLexer

_STRING_LITERAL = re.compile(r'"(?:[^"\\\n\v\f]++|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*+"')


def apply() -> None:
    """Installs the work-arounds (idempotent)."""
    MLIRLexer._unescaped_characters_regex = _STRING_LITERAL
