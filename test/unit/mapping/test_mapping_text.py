"""Mapping: text and JSON forms, structural validation, mapping files."""

import json
import re
from dataclasses import replace

import pytest

from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.mapping import Mapping, MappingError, load_mapping_file

CONV = P.conv2d("conv1", (1, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
MATMUL = P.matmul("fc", 1, 128, 768, 768)

CONV_MAPPING = Mapping(
    cores={"oc": 4}, corelets={"oh": 2}, rows=("oh", "ow"), cols=("oc",), simd=("ic",),
    order=("n", "g", "oc", "oh", "ow", "ic", "kh", "kw"),
    lx={"n": 1, "g": 1, "oc": 16, "oh": 14, "ow": 56, "ic": 64, "kh": 3, "kw": 3},
    l0={"oh": 1, "ow": 56, "oc": 16, "ic": 64}, double_buffer=True)
MATMUL_MAPPING = Mapping(
    cores={"n": 4}, corelets={"m": 2}, rows=("m",), cols=("n",), simd=("k",),
    order=("b", "m", "n", "k"), lx={"b": 1, "m": 64, "n": 192, "k": 768},
    l0={"m": 64, "n": 64, "k": 128}, double_buffer=False)
EMPTY = Mapping(double_buffer=False)

MAPPINGS = [CONV_MAPPING, MATMUL_MAPPING, EMPTY,
            replace(CONV_MAPPING, cores={}, corelets={"oc": 2, "oh": 2}, double_buffer=False)]

DOC_TEXT = """\
cores(oc=4) corelets(oh=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw)
    lx(n=1,g=1,oc=16,oh=14,ow=56,ic=64,kh=3,kw=3) l0(oh=1,ow=56,oc=16,ic=64) double_buffer"""


# -- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_text_round_trip(mapping):
    text = mapping.to_text()
    assert Mapping.from_text(text) == mapping
    assert Mapping.from_text(text).to_text() == text


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_json_round_trip(mapping):
    assert Mapping.from_dict(mapping.to_dict()) == mapping
    assert Mapping.from_dict(json.loads(mapping.to_json())) == mapping


def test_docstring_example_parses_and_validates():
    mapping = Mapping.from_text(DOC_TEXT)
    assert mapping == CONV_MAPPING
    mapping.validate(CONV)


def test_text_form():
    assert CONV_MAPPING.to_text() == " ".join(DOC_TEXT.split())
    assert EMPTY.to_text() == "cores() corelets() rows() cols() simd() order() lx() l0()"


def test_text_tolerates_spaces_and_defaults():
    mapping = Mapping.from_text("  rows( m , n ) lx(m = 4, k=8)  ")
    assert mapping.rows == ("m", "n")
    assert mapping.lx == {"m": 4, "k": 8}
    assert mapping.double_buffer is False
    assert Mapping.from_text("") == EMPTY


def test_json_defaults_and_order_of_keys():
    assert Mapping.from_dict({}) == Mapping()
    assert Mapping.from_dict({}).double_buffer is True
    # `resident` is written only when set (mapping files of older versions stay the same)
    assert list(json.loads(CONV_MAPPING.to_json())) == sorted(set(Mapping.__dataclass_fields__)
                                                                - {"resident", "prefetch", "keep_output", "share_output", "kept_input",
                                                                   "residual_add", "group"})


def test_validate_accepts_good_mappings():
    CONV_MAPPING.validate(CONV)
    MATMUL_MAPPING.validate(MATMUL)


# -- text errors -------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("rows(oh) !!", "mapping text: cannot parse '!!'"),
    ("rows(oh) Cols(oc)", "mapping text: cannot parse 'Cols(oc)'"),
    ("rows(oh", "mapping text: clause 'rows' needs a list in parentheses"),
    ("tiles(oh=2)", "mapping text: unknown clause 'tiles' (expected cores, corelets, rows, cols, "
                    "simd, order, lx, l0, double_buffer, resident, prefetch, keep_output, "
                    "share_output, kept_input, residual_add or group)"),
    ("double_buffer(1)", "mapping text: unknown clause 'double_buffer'"),
    ("order", "mapping text: clause 'order' needs a list in parentheses"),
])
def test_text_bad_clause(text, message):
    with pytest.raises(MappingError) as e:
        Mapping.from_text(text)
    assert message in str(e.value)


@pytest.mark.parametrize("text, entry", [
    ("lx(oh=x)", "oh=x"), ("l0(oh)", "oh"), ("cores(oc=-1)", "oc=-1"), ("corelets(=2)", "=2"),
    ("lx(oh=1.5)", "oh=1.5"),
])
def test_text_bad_kv_entry(text, entry):
    clause = text.split("(")[0]
    with pytest.raises(MappingError, match=rf"mapping text: {clause}\(\.\.\.\) expects "
                                           rf"dim=integer entries, found '{entry}'"):
        Mapping.from_text(text)


# -- JSON errors -------------------------------------------------------------------------


def test_json_not_an_object():
    with pytest.raises(MappingError, match="^mapping: expected an object but found list$"):
        Mapping.from_dict([])


def test_json_unknown_field():
    with pytest.raises(MappingError, match="mapping: unknown field 'tiles' \\(fields: cols, "
                                           "corelets, cores, double_buffer, group, keep_output, kept_input, l0, lx, "
                                           "order, "
                                               "prefetch, resident, residual_add, rows, share_output, "
                                           "simd\\)$"):
        Mapping.from_dict({"rows": ["m"], "tiles": {}})


@pytest.mark.parametrize("key, value", [
    ("cores", ["oc", 4]), ("corelets", {"oh": "2"}), ("lx", {"m": 1.0}), ("l0", {"m": True}),
    ("lx", 3),
])
def test_json_bad_kv(key, value):
    with pytest.raises(MappingError, match=f"'{key}' must map dimensions to integers"):
        Mapping.from_dict({key: value}, "layer x")


@pytest.mark.parametrize("key, value", [
    ("rows", "oh"), ("cols", [1]), ("simd", {"ic": 1}), ("order", ["n", None]),
])
def test_json_bad_list(key, value):
    with pytest.raises(MappingError, match=f"^mapping: '{key}' must be a list of dimension names$"):
        Mapping.from_dict({key: value})


@pytest.mark.parametrize("value", [1, "yes", None])
def test_json_bad_double_buffer(value):
    with pytest.raises(MappingError, match="'double_buffer' must be true or false"):
        Mapping.from_dict({"double_buffer": value})


# -- validate ----------------------------------------------------------------------------


def _check(mapping, problem, pattern):
    with pytest.raises(MappingError, match=pattern):
        mapping.validate(problem)


@pytest.mark.parametrize("clause", ["cores", "corelets", "lx", "l0"])
def test_validate_unknown_dim_in_kv_clause(clause):
    bad = replace(CONV_MAPPING, **{clause: {**getattr(CONV_MAPPING, clause), "oz": 2}})
    _check(bad, CONV, rf"^layer 'conv1': {clause}\(oz=\.\.\.\) names no dimension of the layer "
                      r"\(dimensions: n, g, oc, oh, ow, ic, kh, kw\)$")


@pytest.mark.parametrize("clause", ["rows", "cols", "simd", "order"])
def test_validate_unknown_dim_in_list_clause(clause):
    bad = replace(MATMUL_MAPPING, **{clause: getattr(MATMUL_MAPPING, clause) + ("z",)})
    _check(bad, MATMUL, rf"^layer 'fc': {clause}\(z\) names no dimension of the layer "
                        r"\(dimensions: b, m, n, k\)$")


@pytest.mark.parametrize("clause", ["cores", "corelets", "lx", "l0"])
def test_validate_parts_below_one(clause):
    bad = replace(MATMUL_MAPPING, **{clause: {**getattr(MATMUL_MAPPING, clause), "m": 0}})
    _check(bad, MATMUL, rf"^layer 'fc': {clause}\(m=0\) must be >= 1$")


@pytest.mark.parametrize("order", [("b", "m", "n"), ("b", "m", "n", "k", "k"),
                                   ("m", "m", "n", "k")])
def test_validate_order_not_a_permutation(order):
    _check(replace(MATMUL_MAPPING, order=order), MATMUL,
           r"order\(.*\) must list every dimension once \(b, m, n, k\)")


def test_validate_shared_spatial_dim():
    _check(replace(MATMUL_MAPPING, cols=("n", "m")), MATMUL,
           "rows, cols and simd must not share a dimension")
    _check(replace(MATMUL_MAPPING, rows=("m", "m")), MATMUL,
           "rows, cols and simd must not share a dimension")


def test_validate_simd_not_a_reduction():
    _check(replace(CONV_MAPPING, simd=("ic", "ow"), rows=("oh",)), CONV,
           r"^layer 'conv1': simd\(ic,ow\) must be reduction dimensions \(ic, kh, kw\)$")


@pytest.mark.parametrize("rows, cols", [(("oh", "kh"), ("oc",)), (("oh", "ow"), ("oc", "kw"))])
def test_validate_reduction_in_rows_or_cols(rows, cols):
    _check(replace(CONV_MAPPING, rows=rows, cols=cols), CONV,
           "rows and cols must not hold reduction dimensions")


def test_validate_lx_beyond_per_corelet_extent():
    # oh = 56 split 2 ways over corelets: 28 per corelet
    _check(replace(CONV_MAPPING, lx={**CONV_MAPPING.lx, "oh": 29}), CONV,
           r"^layer 'conv1': lx\(oh=29\) exceeds the 28 a core gets$")
    replace(CONV_MAPPING, lx={**CONV_MAPPING.lx, "oh": 28}).validate(CONV)
    # oc = 64 over 4 cores: 16 each
    _check(replace(CONV_MAPPING, lx={**CONV_MAPPING.lx, "oc": 17}), CONV,
           r"lx\(oc=17\) exceeds the 16 a core gets")


def test_validate_l0_beyond_lx():
    _check(replace(CONV_MAPPING, l0={**CONV_MAPPING.l0, "oh": 15}), CONV,
           r"^layer 'conv1': l0\(oh=15\) exceeds lx\(oh=14\)$")
    # a dim absent from lx has an LX tile of 1
    _check(replace(MATMUL_MAPPING, lx={"b": 1, "m": 64, "k": 768}), MATMUL,
           r"l0\(n=64\) exceeds lx\(n=1\)")


def test_validate_l0_on_non_spatial_dim():
    _check(replace(CONV_MAPPING, l0={**CONV_MAPPING.l0, "kh": 3}), CONV,
           r"^layer 'conv1': l0\(kh=\.\.\.\) but kh is not in rows, cols or simd$")


def test_per_corelet_extent_applies_both_splits():
    assert CONV_MAPPING.per_corelet_extent(CONV, "oc") == 16
    assert CONV_MAPPING.per_corelet_extent(CONV, "oh") == 28
    assert CONV_MAPPING.per_corelet_extent(CONV, "ic") == 64
    uneven = replace(CONV_MAPPING, cores={"oh": 3}, corelets={"oh": 2})
    assert uneven.per_corelet_extent(CONV, "oh") == 10  # ceil(ceil(56 / 3) / 2)


# -- mapping files -----------------------------------------------------------------------


def _file(path):
    return re.escape(f"mapping file {path}")


def test_load_mapping_file(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"conv1": CONV_MAPPING.to_dict(), "fc": MATMUL_MAPPING.to_dict()}))
    assert load_mapping_file(path) == {"conv1": CONV_MAPPING, "fc": MATMUL_MAPPING}
    assert load_mapping_file(str(path)) == {"conv1": CONV_MAPPING, "fc": MATMUL_MAPPING}


def test_load_mapping_file_missing(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(MappingError, match=f"^{_file(path)} does not exist$"):
        load_mapping_file(path)


def test_load_mapping_file_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "conv1": {"rows": ["oh",]}\n}\n')
    with pytest.raises(MappingError, match=f"^{_file(path)}: invalid JSON at line 2, "
                                           "column 27: Expecting value$"):
        load_mapping_file(path)


@pytest.mark.parametrize("content", ["[]", '"x"', "3"])
def test_load_mapping_file_not_an_object(tmp_path, content):
    path = tmp_path / "list.json"
    path.write_text(content)
    with pytest.raises(MappingError, match=f"^{_file(path)}: expected an object of layer "
                                           "name -> mapping$"):
        load_mapping_file(path)


def test_load_mapping_file_bad_entry_names_file_and_layer(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"conv1": {"rows": "oh"}}))
    with pytest.raises(MappingError, match=f"^{_file(path)}, layer 'conv1': 'rows' must be "
                                           "a list of dimension names$"):
        load_mapping_file(path)


def test_text_errors_for_duplicates_and_empty_lists():
    import pytest
    from rapid_mlir.mapping.mapping import Mapping, MappingError

    assert Mapping.from_text("rows (oh) cols(oc)").rows == ("oh",)
    with pytest.raises(MappingError, match="clause 'rows' appears twice"):
        Mapping.from_text("rows(oh) rows(ow)")
    with pytest.raises(MappingError, match=r"lx\(...\) gives oh twice"):
        Mapping.from_text("lx(oh=1,oh=2)")
    with pytest.raises(MappingError, match="clause 'rows' needs a list in parentheses"):
        Mapping.from_text("rows")
    assert len({Mapping(rows=("m",)), Mapping(rows=("m",))}) == 1


def test_mapping_file_that_is_a_directory(tmp_path):
    import pytest
    from rapid_mlir.mapping.mapping import MappingError, load_mapping_file

    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping_file(tmp_path)
