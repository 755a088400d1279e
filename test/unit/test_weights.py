"""The weight store: loading, saving and checking named arrays against the IR."""

import numpy as np
import pytest
from xdsl.dialects.builtin import TensorType, f32

from rapid_mlir.ir_io import parse_module
from rapid_mlir.weights import WeightError, WeightStore, store_for

T = TensorType(f32, [2, 3])


def test_save_load_round_trip(tmp_path):
    store = WeightStore()
    store.add("a.w", np.arange(6, dtype=np.float32).reshape(2, 3))
    store.save(tmp_path / "w.npz")
    loaded = WeightStore.load(tmp_path / "w.npz")
    np.testing.assert_array_equal(loaded.get("a.w", T), np.arange(6).reshape(2, 3))
    assert not list(tmp_path.glob("*.tmp*"))


def test_errors_name_entry_file_and_types(tmp_path):
    store = WeightStore({"a": np.zeros((3, 2), np.float32), "b": np.zeros((2, 3), np.float64)}, "w.npz")
    with pytest.raises(WeightError, match="weight 'zz' is not in w.npz \\(2 entries, e.g. a, b\\)"):
        store.get("zz", T)
    with pytest.raises(WeightError, match="weight 'a' in w.npz is 3x2 float32 but nn.weight declares tensor<2x3xf32>"):
        store.get("a", T)
    with pytest.raises(WeightError, match="is 2x3 float64"):
        store.get("b", T)
    with pytest.raises(WeightError, match="defined twice"):
        store.add("a", np.zeros(1))
    with pytest.raises(WeightError, match="does not exist"):
        WeightStore.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(WeightError, match="not a readable .npz archive"):
        WeightStore.load(tmp_path / "junk.npz")


MODULE = """
builtin.module attributes {nn.weights = "w.npz"} {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %w = nn.weight "a" : tensor<2x3xf32>
    %y = nn.add %x, %w : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %y : tensor<2x3xf32>
  }
}
"""


def test_store_for_resolves_relative_to_the_mlir_file(tmp_path):
    WeightStore({"a": np.ones((2, 3), np.float32)}).save(tmp_path / "w.npz")
    module = parse_module(MODULE)
    assert store_for(module, tmp_path / "net.mlir").names() == ["a"]
    with pytest.raises(WeightError, match="does not exist"):
        store_for(module, tmp_path / "sub" / "net.mlir")
    WeightStore({"b": np.ones((2, 3), np.float32)}).save(tmp_path / "other.npz")
    with pytest.raises(WeightError, match="weight 'a' is not in"):
        store_for(module, tmp_path / "net.mlir", override=tmp_path / "other.npz")


def test_module_without_weight_file():
    module = parse_module(MODULE.replace('attributes {nn.weights = "w.npz"} ', ""))
    with pytest.raises(WeightError, match="names no weight file"):
        store_for(module, None)
