"""bench/models.py on two small models: the table's columns and sane JSON rows (no timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "models.py"


def test_small_models_table_and_json(tmp_path):
    out = tmp_path / "models.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--size", "small", "--models", "mlp,lstm_lm",
                           "--json", str(out)], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["model", "GMACs"])
    for column in ("GMACs", "Mparams", "compile s", "instrs", "cycles", "latency ms", "MPE %",
                   "emulate s", "err/scale", "top-1"):
        assert column in header
    assert any(line.startswith("mlp ") for line in lines) and any(line.startswith("lstm_lm ") for line in lines)

    data = json.loads(out.read_text())
    assert data["machine"] == "rapid-4c" and data["size"] == "small" and data["date"]
    rows = {row["model"]: row for row in data["rows"]}
    assert list(rows) == ["mlp", "lstm_lm"]
    for row in rows.values():
        assert "error" not in row
        assert row["macs"] > 0 and row["params"] > 0 and row["static_instructions"] > 0
        assert row["cycles"] > 0 and row["latency_ms"] > 0 and 0 < row["mpe_utilization"] <= 1
        assert row["compile_seconds"] > 0 and row["emulation_seconds"] > 0
        assert 0 <= row["max_rel_error"] < 2e-2
    assert rows["mlp"]["top1_agreement"] == 1.0  # a classifier
    assert "top1_agreement" not in rows["lstm_lm"]  # a language model: no single class
