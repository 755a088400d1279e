"""`rapid_mlir.frontend.from_torch` against PyTorch itself.

Small seeded models (weights from `torch.manual_seed(0)`, inputs from a generator
seeded with 1) are exported by both ONNX exporters of PyTorch, imported, and checked
against PyTorch's own output (`torch.no_grad`, eval mode):

- on the reference interpreter: float32 on both sides, so
  max |err| <= 1e-4 * max |torch|;
- compiled for rapid-4c and emulated: fp16 storage, max |err| <= 2e-2 * max |torch|
  (the tolerance of test/unit/models/test_zoo.py, which explains it).

A combination that cannot work is an xfail(strict=True) naming the exact reason, so
that it fails loudly once fixed. torch is an optional extra: the file is skipped
without it; the dynamo exporter also needs onnxscript (its cases are skipped, with
that reason, without it).
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from rapid_mlir.frontend import from_torch  # noqa: E402
from rapid_mlir.frontend.onnx import OnnxImportError  # noqa: E402
from rapid_mlir.frontend.torch import (  # noqa: E402
    FromTorchError,
    TorchNotInstalledError,
    example_feeds,
)
from rapid_mlir.reference.interpreter import run  # noqa: E402
from rapid_mlir.tools.errors import InputError  # noqa: E402

REFERENCE_TOLERANCE = 1e-4
DEVICE_TOLERANCE = 2e-2
PRESET = "rapid-4c"

try:
    import onnxscript  # noqa: F401

    HAS_ONNXSCRIPT = True
except ImportError:
    HAS_ONNXSCRIPT = False


# ---------------------------------------------------------------------------
# The models
# ---------------------------------------------------------------------------


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)
        with torch.no_grad():  # running statistics other than the identity
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(self.gap(x), 1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 32), nn.GELU(),
                                    nn.Linear(32, 4))

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    """Post-norm attention block: fused QKV Linear on a 3-D input, heads split by
    reshape/transpose, 4-D MatMuls, softmax, LayerNorms and a tanh-GELU FFN."""

    def __init__(self, d: int = 16, heads: int = 2):
        super().__init__()
        self.heads, self.dk = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(approximate="tanh"), nn.Linear(2 * d, d))
        self.ln2 = nn.LayerNorm(d)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = (t.reshape(b, s, self.heads, self.dk).transpose(1, 2) for t in self.qkv(x).split(d, dim=-1))
        attention = torch.softmax(q @ k.transpose(-2, -1) / self.dk ** 0.5, dim=-1)
        y = (attention @ v).transpose(1, 2).reshape(b, s, d)
        x = self.ln1(x + self.proj(y))
        return self.ln2(x + self.ffn(x))


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16, num_layers=2, batch_first=True)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


class GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, bidirectional=True)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


MODELS = {
    # name: (class, example input shape)
    "cnn": (SmallCNN, (1, 3, 16, 16)),
    "mlp_gelu": (MLP, (2, 16)),
    "transformer_block": (TransformerBlock, (1, 6, 16)),
    "lstm": (LSTMNet, (1, 5, 8)),  # batch first: batch 1, 5 steps
    "gru": (GRUNet, (5, 1, 8)),  # 5 steps, batch 1
}

KNOWN_FAILURES: dict = {}
"""(model, exporter) -> an xfail(strict=True) mark naming why the combination cannot work."""


def _cases():
    for name in MODELS:
        for exporter in ("torchscript", "dynamo"):
            marks = [KNOWN_FAILURES[name, exporter]] if (name, exporter) in KNOWN_FAILURES else []
            if exporter == "dynamo" and not HAS_ONNXSCRIPT:
                marks.append(pytest.mark.skip(reason="the dynamo exporter needs onnxscript (not installed)"))
            yield pytest.param(name, exporter, marks=marks, id=f"{name}-{exporter}")


def _build(name: str):
    """The model (seed 0) and its example input (seed 1)."""
    cls, shape = MODELS[name]
    torch.manual_seed(0)
    model = cls()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    return model, x


@functools.cache
def _exported(name: str, exporter: str):
    """The imported module, its weights, the feeds and PyTorch's output (once per case;
    a test that lowers the module lowers a clone)."""
    model, x = _build(name)
    module, weights = from_torch(model, x, exporter=exporter, weights_file="weights.npz")
    with torch.no_grad():
        expected = model(x).numpy()
    return module, weights, example_feeds(x), expected


def _error(ours: np.ndarray, theirs: np.ndarray) -> float:
    assert ours.shape == theirs.shape
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def _compile_and_run(module, weights, feeds, tmp_path):
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    weights.save(tmp_path / "weights.npz")
    program = compile_module(module.clone(), PRESET, weights=str(tmp_path / "weights.npz"))
    return load(program).run(feeds, check_races=True).outputs


# ---------------------------------------------------------------------------
# Against PyTorch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "exporter"), _cases())
def test_reference_matches_torch(name, exporter):
    module, weights, feeds, expected = _exported(name, exporter)
    outputs = run(module, feeds, weights)
    assert list(outputs) == ["output"]
    assert _error(outputs["output"], expected) <= REFERENCE_TOLERANCE


@pytest.mark.parametrize(("name", "exporter"), _cases())
def test_device_matches_torch(name, exporter, tmp_path):
    module, weights, feeds, expected = _exported(name, exporter)
    outputs = _compile_and_run(module, weights, feeds, tmp_path)
    assert _error(outputs["output"], expected) <= DEVICE_TOLERANCE


class LastStep(nn.Module):
    def forward(self, x):
        return x[:, -1] * 2.0


def test_selecting_one_step_compiles(tmp_path):
    """x[:, -1] exports as Gather with a rank-0 constant index (once an internal error of
    host_lowering, which broadcast the one-element index array to a rank-0 shape)."""
    x = torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(1))
    module, weights = from_torch(LastStep(), x)
    feeds = example_feeds(x)
    expected = (x[:, -1] * 2.0).numpy()
    assert _error(run(module, feeds, weights)["output"], expected) == 0  # the reference is fine
    assert _error(_compile_and_run(module, weights, feeds, tmp_path)["output"], expected) <= DEVICE_TOLERANCE


# ---------------------------------------------------------------------------
# The API: names, inputs, eval mode, the return type
# ---------------------------------------------------------------------------


class TwoInTwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, a, b):
        h = self.drop(self.fc(a))
        return h + b, torch.sigmoid(h)


def test_names_numpy_inputs_and_eval_mode():
    from xdsl.dialects.builtin import ModuleOp

    from rapid_mlir.weights import WeightStore

    torch.manual_seed(0)
    model = TwoInTwoOut()
    assert model.training
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 4, generator=gen), torch.randn(2, 3, generator=gen).numpy()
    module, weights = from_torch(model, (a, b))
    assert isinstance(module, ModuleOp) and isinstance(weights, WeightStore)
    assert not model.training and not model.drop.training  # switched to eval mode, and left in it
    feeds = example_feeds((a, b))
    assert list(feeds) == ["input_0", "input_1"]
    outputs = run(module, feeds, weights)
    assert list(outputs) == ["output_0", "output_1"]
    with torch.no_grad():
        expected = model(a, torch.from_numpy(b))  # dropout off
    for ours, theirs in zip(outputs.values(), expected, strict=True):
        assert _error(ours, theirs.numpy()) <= REFERENCE_TOLERANCE

    module, weights = from_torch(model, (a, b), input_names=["a", "b"], output_names=["sum", "act"])
    outputs = run(module, example_feeds((a, b), ["a", "b"]), weights)
    assert list(outputs) == ["sum", "act"]


def test_example_feeds_are_copies():
    x = torch.zeros(2, 3)
    feeds = example_feeds(x)
    assert list(feeds) == ["input"] and feeds["input"].dtype == np.float32
    feeds["input"][0, 0] = 1.0
    assert x[0, 0] == 0.0
    arr = np.zeros((2, 2), dtype=np.float32)
    assert example_feeds([arr], ["x"])["x"] is not arr


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class Eigh(nn.Module):
    def forward(self, x):
        return torch.linalg.eigh(x)[0]


class Branch(nn.Module):
    def forward(self, x):
        return x * 2 if x.sum() > 0 else x - 1


class Sine(nn.Module):
    def forward(self, x):
        return torch.sin(x)


def test_errors():
    x = torch.randn(2, 2)
    with pytest.raises(InputError, match="unknown exporter 'jit': expected one of torchscript, dynamo"):
        from_torch(MLP(), x, exporter="jit")
    with pytest.raises(InputError, match="opset 21: the torchscript exporter writes ONNX opsets 13 to 20"):
        from_torch(MLP(), x, opset=21)
    with pytest.raises(InputError, match="opset 17: the dynamo exporter writes ONNX opsets 18 to 21"):
        from_torch(MLP(), x, exporter="dynamo", opset=17)
    with pytest.raises(InputError, match="needs a torch.nn.Module, not a function"):
        from_torch(lambda t: t, x)
    with pytest.raises(InputError, match="example input 1 is a list"):
        from_torch(MLP(), (x, [1, 2]))
    with pytest.raises(InputError, match="input_names gives 2 name"):
        from_torch(MLP(), x, input_names=["a", "b"])
    with pytest.raises(FromTorchError, match=r"^MLP fails on the example inputs \(RuntimeError: mat1 and mat2"):
        from_torch(MLP(), x)
    with pytest.raises(FromTorchError) as info:
        from_torch(Eigh(), x)
    assert str(info.value) == (
        "the torchscript exporter cannot export Eigh to ONNX opset 20 (UnsupportedOperatorError: "
        "Exporting the operator 'aten::linalg_eigh' to ONNX opset version 20 is not supported)")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(OnnxImportError, match=r"\(Sin, opset 20\): operator Sin is not supported"):
        from_torch(Sine(), x)


@pytest.mark.skipif(not HAS_ONNXSCRIPT, reason="the dynamo exporter needs onnxscript (not installed)")
def test_dynamo_export_error_is_its_summary():
    with pytest.raises(FromTorchError) as info:
        from_torch(Branch(), torch.randn(2, 2), exporter="dynamo")
    text = str(info.value)
    assert text.startswith("the dynamo exporter cannot export Branch to ONNX opset 20 (TorchExportError: "
                           "Failed to export the model with torch.export.\n")
    assert "GuardOnDataDependentSymNode" in text and "\x1b[" not in text and len(text.splitlines()) <= 10


def test_missing_torch_or_onnxscript_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # `import onnxscript` now fails
    with pytest.raises(TorchNotInstalledError,
                       match="the dynamo exporter needs the onnxscript package: pip install onnxscript"):
        from_torch(MLP(), torch.randn(2, 16), exporter="dynamo")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'rapid_mlir[torch]'")) as info:
        from_torch(None, None)
    assert isinstance(info.value, InputError)


# ---------------------------------------------------------------------------
# The example of docs/onnx.md, "From PyTorch"
# ---------------------------------------------------------------------------


def test_docs_example_runs(tmp_path, monkeypatch):
    docs = (Path(__file__).parents[3] / "docs" / "onnx.md").read_text()
    section = docs[docs.index("## From PyTorch"):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "docs/onnx.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert (tmp_path / "net.npz").is_file()
    assert _error(namespace["reference"], namespace["expected"]) <= REFERENCE_TOLERANCE
