"""bench/dse.py on a small model: the network row (speed-up, roofline fraction, error) and the
per-layer roofline table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "dse.py"


def _run(*argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(SCRIPT), *argv], check=False, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_network_rows(tmp_path):
    out = tmp_path / "dse.json"
    done = _run("--size", "small", "--models", "resnet18", "--batches", "1", "--machines", "rapid-1c",
                "--no-optimality", "--json", str(out))
    assert "geometric-mean speed-up of dse over fixed" in done.stdout
    (row,) = json.loads(out.read_text())["rows"]
    assert row["network"] == "resnet18" and "error" not in row
    fixed, dse = row["runs"]["fixed"], row["runs"]["dse"]
    assert row["speedup"] == pytest.approx(fixed["cycles"] / dse["cycles"])
    assert 0 < row["roofline_fraction"] <= 1 and row["max_rel_error"] < 2e-2


def test_layer_table():
    done = _run("--size", "small", "--layers", "resnet18", "--batches", "1", "--machines", "rapid-4c")
    lines = done.stdout.splitlines()
    assert lines[0].startswith("resnet18 (small, batch 1) on rapid-4c, dse:")
    conv = next(line for line in lines if line.startswith("/conv1/Conv"))
    fraction = float(conv.split()[3].rstrip("%")) / 100
    assert 0 < fraction <= 1
    assert lines[-2].endswith("matrix layers within 15% of their roofline bound")
    floor, factor = lines[-1].split(" cycles")[0].split()[-1], lines[-1].split()[-3]
    assert lines[-1].startswith("per-layer floor: ") and factor.endswith("x")
    cycles = int(lines[0].split(": ")[1].split()[0].replace(",", ""))
    assert 0 < int(floor.replace(",", "")) <= cycles and float(factor[:-1]) >= 1.0
