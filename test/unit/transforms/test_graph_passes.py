"""The nn graph optimisations (fold-batch-norm, fold-constants, fold-reshapes) on real
networks and random chains: the optimised module computes what the original does
(reference interpreter, float32), has fewer ops, and compiles to fewer cycles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from rapid_mlir.dialects import make_context, nn  # noqa: E402
from rapid_mlir.frontend.onnx import import_onnx  # noqa: E402
from rapid_mlir.ir_io import parse_module  # noqa: E402
from rapid_mlir.models import zoo  # noqa: E402
from rapid_mlir.pipeline import compile_module  # noqa: E402
from rapid_mlir.reference.interpreter import run  # noqa: E402
from rapid_mlir.runtime import load  # noqa: E402
from rapid_mlir.transforms.fold_batch_norm import FoldBatchNormPass  # noqa: E402
from rapid_mlir.transforms.fold_constants import FoldConstantsPass  # noqa: E402
from rapid_mlir.transforms.fold_reshapes import FoldReshapesPass, compose, moves_only_unit_axes  # noqa: E402
from rapid_mlir.weights import WeightStore  # noqa: E402


def _count(module, kind) -> int:
    return sum(isinstance(op, kind) for op in module.walk())


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    """The small ResNet-18 imported, its weight file, and seeded inputs."""
    model = zoo.build("resnet18", "small", seed=0)
    module, store = import_onnx(model)
    path = tmp_path_factory.mktemp("resnet") / "resnet18.npz"
    store.save(path)
    return module, store, str(path), zoo.example_inputs(model, seed=1)


def test_fold_batch_norm_on_resnet18(resnet, tmp_path):
    module, store, path, inputs = resnet
    before = run(module.clone(), inputs, store)
    folded = module.clone()
    out = tmp_path / "folded.npz"
    FoldBatchNormPass().apply(make_context(), folded)
    FoldConstantsPass(weights=path, weights_out=str(out)).apply(make_context(), folded)
    folded.verify()
    assert _count(module, nn.BatchNormOp) == 12 and _count(folded, nn.BatchNormOp) == 0
    # Every conv now has a bias, and the folding's per-channel ops are all evaluated.
    assert all(op.bias is not None for op in folded.walk() if isinstance(op, nn.Conv2DOp))
    assert _count(folded, nn.SqrtOp) == _count(folded, nn.DivOp) == 0
    after = run(folded, inputs, WeightStore.load(out))
    for name, want in before.items():
        np.testing.assert_allclose(after[name], want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_graph_passes_reduce_cycles(resnet):
    """The optimised ResNet-18 is faster on the device and as accurate."""
    module, store, path, inputs = resnet
    want = run(module.clone(), inputs, store)["logits"]
    cycles = {}
    for optimize in (False, True):
        result = load(compile_module(module.clone(), "rapid-4c", weights=path, optimize=optimize)).run(inputs)
        got = result.outputs["logits"]
        assert np.abs(got - want).max() <= 2e-2 * np.abs(want).max()
        cycles[optimize] = result.cycles
    assert cycles[True] < 0.9 * cycles[False], cycles


@pytest.mark.parametrize("rank", [2, 3, 4])
def test_compose_matches_numpy(rank):
    x = np.arange(np.prod(range(2, 2 + rank))).reshape(range(2, 2 + rank))
    for p, q in itertools.product(itertools.permutations(range(rank)), repeat=2):
        assert np.array_equal(x.transpose(p).transpose(q), x.transpose(compose(p, q)))


def test_moves_only_unit_axes_matches_memory_order():
    """A transpose is a reshape exactly when it keeps the row-major order of the data."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        shape = tuple(int(v) for v in rng.choice([1, 1, 2, 3], size=rng.integers(1, 5)))
        perm = tuple(int(v) for v in rng.permutation(len(shape)))
        x = np.arange(int(np.prod(shape))).reshape(shape)
        same_order = np.array_equal(x.transpose(perm).ravel(), x.ravel())
        if moves_only_unit_axes(shape, perm):
            assert same_order, (shape, perm)


def _chain_module(ops: list[tuple[str, tuple]], shape: tuple[int, ...]) -> str:
    """An nn function applying a chain of reshapes and transposes to its argument."""
    lines, cur, arg = [], shape, "%x"
    def t(s): return "tensor<" + "x".join(map(str, s)) + "xf32>"
    for i, (kind, how) in enumerate(ops):
        if kind == "reshape":
            lines.append(f"  %v{i} = nn.reshape {arg} : ({t(cur)}) -> {t(how)}")
            cur = how
        else:
            new = tuple(cur[a] for a in how)
            lines.append(f"  %v{i} = nn.transpose {arg} perm [{', '.join(map(str, how))}] : ({t(cur)}) -> {t(new)}")
            cur = new
        arg = f"%v{i}"
    body = "\n".join(lines)
    return f"func.func @main(%x: {t(shape)}) -> {t(cur)} {{\n{body}\n  func.return {arg} : {t(cur)}\n}}\n"


def test_fold_reshapes_random_chains():
    """Random chains of reshapes and transposes compute the same after folding, with no
    more transposes than before and at most one reshape between two transposes."""
    rng = np.random.default_rng(1)
    for _ in range(40):
        shape = (2, 1, 3, 2)
        ops, cur = [], shape
        for _ in range(rng.integers(2, 6)):
            if rng.random() < 0.5:
                perm = tuple(int(v) for v in rng.permutation(len(cur)))
                ops.append(("transpose", perm))
                cur = tuple(cur[a] for a in perm)
            else:
                cur = [(12,), (2, 6), (3, 4), (1, 12, 1), (2, 3, 2), (2, 1, 3, 2)][rng.integers(6)]
                ops.append(("reshape", cur))
        text = _chain_module(ops, shape)
        module = parse_module(text)
        x = rng.standard_normal(shape).astype(np.float32)
        want = run(parse_module(text), {"x": x})
        FoldReshapesPass().apply(make_context(), module)
        module.verify()
        got = run(module, {"x": x})
        np.testing.assert_array_equal(next(iter(got.values())), next(iter(want.values())))
        assert _count(module, nn.TransposeOp) <= _count(parse_module(text), nn.TransposeOp)
        kinds = [op.name for op in module.walk() if op.name.startswith("nn.")]
        assert "nn.reshape,nn.reshape" not in ",".join(kinds), text
