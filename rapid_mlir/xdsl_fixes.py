"""Work-arounds for problems of the pinned xDSL version that bad input can trigger.

`apply()` is idempotent and runs when `rapid_mlir.dialects` is imported, i.e. before
any of our tools parses text.

- xDSL 0.74's MLIR lexer matches string literals with `"(?:[^"\\\n\v\f]+|...)*"`, a
  nested quantifier that backtracks exponentially on an unterminated string: one stray
  `"` in a long line of a `.mlir` file made the parser run for minutes (found by
  `rapid_mlir.fuzz.mutate`). The same pattern with possessive quantifiers accepts the
  same strings and fails in linear time.
- xDSL's parsers consume expected tokens through `GenericParser._consume_token`, which
  *asserts* the token's kind. Some grammar paths reach it without checking first: a
  dense literal with a `(` that does not close after two numbers, `dense<[1.0, (2.0,
  3.0, 4.0]>`, read as a complex number, ended in an AssertionError (an internal error
  of our tools) instead of a parse error (found by `rapid_mlir.fuzz.mutate`). The
  replacement raises a `ParseError` at the token, with what was expected.
"""

from __future__ import annotations

import re

from xdsl.parser.generic_parser import GenericParser
from xdsl.utils.exceptions import ParseError
from xdsl.utils.mlir_lexer import KIND_BY_PUNCTUATION_SPELLING, MLIRLexer

_STRING_LITERAL = re.compile(r'"(?:[^"\\\n\v\f]++|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*+"')


def _consume_token(self, expected_kind=None):
    token = self._current_token
    if expected_kind is not None and token.kind != expected_kind:
        found = token.text or getattr(token.kind, "name", str(token.kind)).lower()
        spelling = {k: t for t, k in KIND_BY_PUNCTUATION_SPELLING.items()}.get(expected_kind)
        expected = (f"'{spelling}'" if spelling else
                    getattr(expected_kind, "name", str(expected_kind)).lower().replace("_", " "))
        raise ParseError(token.span, f"expected {expected}, found '{found}'")
    self._parser_state.current_token = self.lexer.lex()
    return token


def apply() -> None:
    """Installs the work-arounds (idempotent)."""
    MLIRLexer._unescaped_characters_regex = _STRING_LITERAL
    GenericParser._consume_token = _consume_token
