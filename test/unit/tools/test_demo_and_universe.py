"""The bundled example is in sync with its generator; the demo runs; xdsl-opt sees nn."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from rapid_mlir.tools.demo import main as demo_main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def test_example_regenerates_identically(tmp_path):
    subprocess.run([sys.executable, str(EXAMPLES / "make_small_cnn.py"), str(tmp_path)], check=True,
                   capture_output=True)
    assert (tmp_path / "small_cnn.mlir").read_text() == (EXAMPLES / "small_cnn.mlir").read_text()
    with np.load(tmp_path / "small_cnn.npz") as new, np.load(EXAMPLES / "small_cnn.npz") as old:
        assert new.files == old.files
        for name in new.files:
            np.testing.assert_array_equal(new[name], old[name])


def test_demo_compiles_runs_and_agrees_with_the_reference(capsys, tmp_path):
    out_file = tmp_path / "small_cnn.rbin"
    assert demo_main([str(EXAMPLES / "small_cnn.mlir"), "--seed", "0", "-o", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert out_file.read_bytes().startswith(b"RBIN")
    line = next(l for l in out.splitlines() if l.startswith("output probabilities: 1x10 float32"))
    total = float(line.split("sum=")[1].split()[0])
    assert abs(total - 1.0) < 5e-3          # softmax output: one probability distribution (fp16)
    assert "OK" in out.split("vs reference interpreter")[1]
    cycles = out.split("emulator: ")[1].split(" cycles")[0]
    assert int(cycles.replace(",", "")) > 0
    assert "MPE utilisation" in out


def test_xdsl_opt_sees_the_nn_dialect_through_the_universe_entry_point():
    xdsl_opt = shutil.which("xdsl-opt", path=str(Path(sys.executable).parent))
    text = "%x = \"test.op\"() : () -> tensor<2xf32>\n%y = nn.relu %x : tensor<2xf32>\n"
    proc = subprocess.run([xdsl_opt], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "nn.relu %x : tensor<2xf32>" in proc.stdout
