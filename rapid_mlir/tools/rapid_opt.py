"""`rapid-opt`: xDSL's modular optimizer driver with rapid_mlir's dialects and passes.

All of `xdsl-opt`'s flags work (`-p` pipelines, `--split-input-file`,
`--verify-diagnostics`, `--print-op-generic`, ...). Differences: only the dialects and
passes our IR uses are registered; any error ends with a one-paragraph message on
stderr and exit code 1 instead of a traceback; and `-o FILE` is written only when the
whole run succeeds.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence

from xdsl.utils.exceptions import DiagnosticException
from xdsl.xdsl_opt_main import xDSLOptMain

from rapid_mlir.dialects import all_dialects
from rapid_mlir.tools.errors import InputError, describe, report_errors
from rapid_mlir.transforms import all_passes


class _DeferredOutput(io.StringIO):
    """Collects the output in memory; xDSL's `close()` must not discard it."""

    def close(self) -> None:  # the text is written out by `RapidOptMain.finish`
        pass


class RapidOptMain(xDSLOptMain):
    """The `rapid-opt` command line."""

    version_format = "rapid-opt (xdsl {xdsl_version})"

    def register_all_dialects(self) -> None:
        for name, factory in all_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_passes(self) -> None:
        for name, factory in all_passes().items():
            self.register_pass(name, factory)

    def register_all_frontends(self) -> None:
        from xdsl.parser import Parser

        from rapid_mlir.ir_io import not_utf8, parse_checked

        def parse_mlir(io):
            try:
                parser = Parser(self.ctx, io.read(), self.get_input_name())
            except UnicodeDecodeError as e:
                raise not_utf8(self.get_input_name(), e) from None
            return parse_checked(parser, not self.args.no_implicit_module)

        self.available_frontends["mlir"] = parse_mlir

    def register_all_targets(self) -> None:
        from xdsl.targets.mlir import MLIRTarget

        from rapid_mlir.backend.targets import RasmTarget, RbinTarget

        self.available_targets["mlir"] = lambda: MLIRTarget
        self.available_targets["rasm"] = lambda: RasmTarget
        self.available_targets["rbin"] = lambda: RbinTarget

    def setup_pipeline(self) -> None:
        from xdsl.utils.arg_spec import parse_pipeline

        for spec in parse_pipeline(self.args.passes or ""):
            if spec.name not in self.available_passes:
                known = ", ".join(sorted(self.available_passes))
                raise ValueError(f"unknown pass '{spec.name}' in the pipeline (known passes: {known})")
        try:
            super().setup_pipeline()
        except ValueError as e:  # e.g. an option the pass does not have
            raise ValueError(f"bad pass pipeline '{self.args.passes}': {e}") from None

    def _binary(self) -> bool:
        return self.args.target == "rbin"

    def prepare_output(self):
        if self.args.output_file is None and not self._binary():
            return sys.stdout
        self._deferred = _DeferredOutput()
        return self._deferred

    def finish(self) -> None:
        """Writes the output atomically (`-o FILE`), after everything succeeded; a binary
        target's latin-1 text becomes bytes again."""
        from rapid_mlir.backend.targets import BINARY_TEXT_ENCODING

        if self.args.output_file is None and not self._binary():
            return
        data = self._deferred.getvalue()
        raw = data.encode(BINARY_TEXT_ENCODING) if self._binary() else data.encode()
        if self.args.output_file is None:
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()
            return
        path = self.args.output_file
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    def work() -> int:
        opt = RapidOptMain(description="rapid-mlir modular optimizer driver", args=argv)
        try:
            opt.run()
        except DiagnosticException as e:
            raise InputError(f"{opt.get_input_name()}: {describe(e)}") from None
        opt.finish()
        return 0

    return report_errors("rapid-opt", work)


if __name__ == "__main__":
    sys.exit(main())
