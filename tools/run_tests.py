"""Runs the whole test suite (lit + FileCheck, then pytest) and prints one summary.

Used by `make test` and CI. Exits non-zero when any test fails or nothing ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(cmd: list[str]) -> tuple[int, str]:
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(proc.stdout, end="", flush=True)
    return proc.returncode, proc.stdout


def count(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


def main() -> int:
    env_jobs = os.environ.get("LIT_JOBS", str(os.cpu_count() or 2))
    t0 = time.monotonic()
    lit_rc, lit_out = run([str(BIN / "lit"), "-sv", f"-j{env_jobs}", "test/filecheck"])
    lit_pass = count(r"Passed\s*:\s*(\d+)", lit_out)
    lit_fail = sum(count(rf"{k}\s*:\s*(\d+)", lit_out) for k in ("Failed", "Unresolved", "Timed Out"))
    t1 = time.monotonic()
    py_rc, py_out = run([str(BIN / "python"), "-m", "pytest", "test/unit", "-p", "no:cacheprovider"])
    py_pass = count(r"(\d+) passed", py_out)
    py_fail = count(r"(\d+) failed", py_out) + count(r"(\d+) errors?", py_out)
    t2 = time.monotonic()
    print()
    print(f"lit (FileCheck): {lit_pass} passed, {lit_fail} failed in {t1 - t0:.0f} s")
    print(f"pytest (unit):   {py_pass} passed, {py_fail} failed in {t2 - t1:.0f} s")
    ok = lit_rc == 0 and py_rc == 0 and lit_pass > 0 and py_pass > 0
    print(f"total: {lit_pass + py_pass} passed, {lit_fail + py_fail + (0 if ok else 0)} failed")
    if not ok:
        print("test suite FAILED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
