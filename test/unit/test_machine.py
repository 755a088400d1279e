"""The machine description: presets, derived figures, fingerprints, files and every error."""

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest

from rapid_mlir.machine import (
    DEFAULT_MACHINE,
    FIELD_NAMES,
    GiB,
    KiB,
    MiB,
    PRESETS,
    Machine,
    MachineError,
    default_machine,
    load_machine,
)

DEFAULTS = {
    "corelets_per_core": 2, "clock_ghz": 1.6, "dram_bytes": 256 * MiB, "dram_gbps": 150.0,
    "dram_latency_cycles": 300, "lx_bytes": 2 * MiB, "stick_bytes": 128,
    "ring_bytes_per_cycle": 128, "ring_hop_cycles": 4, "mpe_rows": 8, "mpe_cols": 8,
    "mpe_simd": 8, "mpe_fill_drain_cycles": 16, "l0_a_bytes": 16 * KiB, "l0_b_bytes": 16 * KiB,
    "acc_bytes": 64 * KiB, "sfu_lanes": 32, "sfu_latency_cycles": 8,
    "sfu_transcendental_factor": 4, "scalar_cycles": 1, "dma_queues": 2, "semaphores": 256,
    "loop_depth": 4, "registers": 16, "host_call_cycles": 16_000, "host_link_gbps": 16.0,
    "fp16_format": "ieee",
}


def replace(**changes) -> Machine:
    return dataclasses.replace(default_machine(), **changes)


# Presets and derived quantities ---------------------------------------------------------


@pytest.mark.parametrize("name, cores, gbps", [
    ("rapid-1c", 1, 150.0), ("rapid-4c", 4, 150.0), ("rapid-32c", 32, 1200.0)])
def test_presets_have_documented_values(name, cores, gbps):
    m = load_machine(name)
    assert m is PRESETS[name]
    assert (m.name, m.cores, m.dram_gbps) == (name, cores, gbps)
    expected = dict(DEFAULTS, name=name, cores=cores, dram_gbps=gbps)
    assert m.to_dict() == expected
    assert list(m.to_dict()) == list(FIELD_NAMES)


def test_default_machine_is_rapid_4c():
    assert DEFAULT_MACHINE == "rapid-4c"
    assert default_machine() is PRESETS["rapid-4c"]
    assert set(PRESETS) == {"rapid-1c", "rapid-4c", "rapid-32c"}


def test_machine_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_machine().cores = 8


def test_derived_quantities():
    m = load_machine("rapid-1c")
    assert m.macs_per_cycle_per_corelet == 512
    assert m.peak_macs_per_cycle == 1024
    assert m.corelets == 2
    assert m.peak_tflops == pytest.approx(3.2768)  # 2 corelets x 512 MAC x 2 FLOP x 1.6 GHz
    assert m.dram_bytes_per_cycle == pytest.approx(150 / 1.6)
    big = load_machine("rapid-32c")
    assert big.peak_macs_per_cycle == 32 * 1024
    assert big.peak_tflops == pytest.approx(32 * 3.2768)
    # Same bytes per FLOP as the 4-core chip.
    four = load_machine("rapid-4c")
    assert big.dram_gbps / big.peak_tflops == pytest.approx(four.dram_gbps / four.peak_tflops)


def test_streams_per_core():
    assert default_machine().streams_per_core == ["dma0", "dma1", "mpe0", "sfu0", "mpe1", "sfu1"]
    m = replace(dma_queues=3, corelets_per_core=1)
    assert m.streams_per_core == ["dma0", "dma1", "dma2", "mpe0", "sfu0"]


def test_summary_mentions_name_and_fingerprint():
    m = load_machine("rapid-1c")
    assert m.summary().startswith("rapid-1c: 1 core x 2 corelets, 1.6 GHz, 3.28 TFLOPS")
    assert m.fingerprint() in m.summary()


# Fingerprint and JSON -------------------------------------------------------------------


def test_fingerprint_stable_and_sensitive():
    m = default_machine()
    fp = m.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fp == hashlib.sha256(m.to_json().encode()).hexdigest()[:16]
    assert Machine(name="rapid-4c", cores=4).fingerprint() == fp
    assert replace(clock_ghz=2).fingerprint() == replace(clock_ghz=2.0).fingerprint()
    seen = {fp}
    for changes in [dict(cores=5), dict(name="other"), dict(fp16_format="dlfloat16"),
                    dict(clock_ghz=1.7), dict(registers=32), dict(dram_latency_cycles=301)]:
        seen.add(replace(**changes).fingerprint())
    assert len(seen) == 7
    assert len({p.fingerprint() for p in PRESETS.values()}) == 3


def test_json_round_trip_is_canonical():
    for m in PRESETS.values():
        text = m.to_json()
        assert list(json.loads(text)) == sorted(FIELD_NAMES)
        assert " " not in text
        back = Machine.from_json(text)
        assert back == m and back.to_json() == text
    shuffled = json.dumps(dict(reversed(list(default_machine().to_dict().items()))), indent=2)
    assert Machine.from_json(shuffled) == default_machine()


def test_float_fields_are_normalised():
    m = replace(clock_ghz=2, dram_gbps=100)
    assert type(m.clock_ghz) is float and type(m.dram_gbps) is float
    assert '"clock_ghz":2.0' in m.to_json()


# Machine files --------------------------------------------------------------------------


def test_load_toml_with_base_and_overrides(tmp_path):
    path = tmp_path / "slow-dram.toml"
    path.write_text('base = "rapid-4c"\ndram_gbps = 100.0\ndram_latency_cycles = 500\n'
                    'lx_bytes = 4_194_304\nfp16_format = "dlfloat16"\n')
    m = load_machine(path)
    assert m.name == "slow-dram"  # the file's stem, not the base's name
    assert (m.cores, m.dram_gbps, m.dram_latency_cycles) == (4, 100.0, 500)
    assert m.lx_bytes == 4 * MiB and m.fp16_format == "dlfloat16"
    assert m.mpe_rows == 8
    assert load_machine(str(path)) == m


def test_load_json_with_base_name_and_overrides(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"base": "rapid-1c", "name": "tiny", "corelets_per_core": 1,
                                "clock_ghz": 1}))
    m = load_machine(path)
    assert (m.name, m.cores, m.corelets_per_core, m.clock_ghz) == ("tiny", 1, 1, 1.0)
    assert m.peak_tflops == pytest.approx(512 * 2 * 1.0 / 1000)


def test_load_file_without_base(tmp_path):
    path = tmp_path / "bare.toml"
    path.write_text("cores = 2\n")
    m = load_machine(path)
    assert m == Machine(name="bare", cores=2)


def test_embedded_json_file_round_trip(tmp_path):
    path = tmp_path / "copy.json"
    path.write_text(PRESETS["rapid-32c"].to_json())
    assert load_machine(path) == PRESETS["rapid-32c"]


# Error paths ----------------------------------------------------------------------------


def test_error_range():
    with pytest.raises(MachineError, match=re.escape("machine field 'cores' = 0 is out of range [1, 64]")):
        Machine(name="x", cores=0)
    with pytest.raises(MachineError, match=re.escape(
            "machine field 'lx_bytes' = 1000 is out of range [65536, 67108864] (64 KiB .. 64 MiB)")):
        replace(lx_bytes=1000)
    with pytest.raises(MachineError, match=re.escape("'clock_ghz' = 5.5 is out of range [0.1, 5.0]")):
        replace(clock_ghz=5.5)
    with pytest.raises(MachineError, match="'clock_ghz' = nan is out of range"):
        replace(clock_ghz=float("nan"))
    with pytest.raises(MachineError, match=re.escape("'dram_bytes' = 1048577 must be a multiple of 4096")):
        replace(dram_bytes=MiB + 1)
    with pytest.raises(MachineError, match=re.escape("'dram_bytes' = 34359738368 is out of range")):
        replace(dram_bytes=32 * GiB)
    with pytest.raises(MachineError, match=re.escape("'stick_bytes' = 96 must be a power of two in [16, 1024]")):
        replace(stick_bytes=96)


def test_error_type():
    with pytest.raises(MachineError, match=re.escape("machine field 'cores' must be an integer, got '4'")):
        Machine(name="x", cores="4")
    with pytest.raises(MachineError, match=re.escape("'lx_bytes' must be an integer, got 2097152.0")):
        replace(lx_bytes=2097152.0)
    with pytest.raises(MachineError, match=re.escape("'clock_ghz' must be a number, got '1.6'")):
        replace(clock_ghz="1.6")
    with pytest.raises(MachineError, match=re.escape("'name' must be a string, got 3")):
        Machine(name=3, cores=1)
    with pytest.raises(MachineError, match="'name' must not be empty"):
        Machine(name=" ", cores=1)


def test_error_bool_is_not_an_int():
    with pytest.raises(MachineError, match=re.escape("machine field 'cores' must be an integer, got True")):
        Machine(name="x", cores=True)
    with pytest.raises(MachineError, match=re.escape("'clock_ghz' must be a number, got False")):
        replace(clock_ghz=False)


def test_error_unknown_field_suggests(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('base = "rapid-4c"\ncore = 8\n')
    with pytest.raises(MachineError, match=re.escape(
            f"machine file '{path}': unknown field 'core' (did you mean 'cores'?)")):
        load_machine(path)
    path.write_text('base = "rapid-4c"\nzzz = 1\n')
    with pytest.raises(MachineError, match="unknown field 'zzz'; fields are 'base' and those"):
        load_machine(path)


def test_error_unknown_preset(tmp_path):
    with pytest.raises(MachineError, match=re.escape(
            "unknown machine 'rapid-8c' (did you mean 'rapid-4c' or 'rapid-1c' or 'rapid-32c'?); "
            "known presets: rapid-1c, rapid-4c, rapid-32c")):
        load_machine("rapid-8c")
    path = tmp_path / "b.toml"
    path.write_text('base = "rapid-4"\n')
    with pytest.raises(MachineError, match=re.escape(
            f"machine file '{path}': unknown base preset 'rapid-4' (did you mean 'rapid-4c'")):
        load_machine(path)
    path.write_text("base = 4\n")
    with pytest.raises(MachineError, match="'base' must be a preset name, got 4"):
        load_machine(path)


def test_error_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(MachineError, match=re.escape(f"machine file '{path}' does not exist")):
        load_machine(path)
    (tmp_path / "m.yaml").write_text("cores: 1\n")
    with pytest.raises(MachineError, match="must end in .json or .toml"):
        load_machine(tmp_path / "m.yaml")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(MachineError, match="is not a file"):
        load_machine(tmp_path / "dir.json")


def test_error_malformed_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "base": "rapid-4c",\n  "cores": 4,\n}\n')
    with pytest.raises(MachineError, match=re.escape(f"machine file '{path}' is not valid JSON: ")
                       + r".*\(line 4, column 1\)"):
        load_machine(path)
    path.write_text("[1, 2]")
    with pytest.raises(MachineError, match="must hold a table of machine fields, got a list"):
        load_machine(path)
    with pytest.raises(MachineError, match="machine JSON is not valid JSON"):
        Machine.from_json("{")


def test_error_malformed_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('base = "rapid-4c"\ncores 4\n')
    with pytest.raises(MachineError, match=re.escape(f"machine file '{path}' is not valid TOML: ")
                       + r".*line 2"):
        load_machine(path)


def test_error_in_file_names_file(tmp_path):
    path = tmp_path / "range.toml"
    path.write_text('base = "rapid-4c"\ncores = 65\n')
    with pytest.raises(MachineError, match=re.escape(
            f"machine file '{path}': machine field 'cores' = 65 is out of range [1, 64]")):
        load_machine(path)
    path.write_text('base = "rapid-4c"\ncores = "4"\n')
    with pytest.raises(MachineError, match=re.escape(f"machine file '{path}': machine field 'cores' must be an integer")):
        load_machine(path)
    path.write_text('base = "rapid-4c"\n[cores]\nx = 1\n')
    with pytest.raises(MachineError, match="'cores' must be an integer, got \\{'x': 1\\}"):
        load_machine(path)
    path.write_text("clock_ghz = 1.0\n")
    with pytest.raises(MachineError, match=re.escape(
            f"machine file '{path}': field 'cores' is missing (give it, or start from a preset "
            'with base = "rapid-4c")')):
        load_machine(path)


def test_error_cross_field():
    with pytest.raises(MachineError, match=re.escape(
            "machine field 'lx_bytes' = 66048 must be a multiple of stick_bytes = 1024")):
        replace(stick_bytes=1024, lx_bytes=64 * KiB + 512)
    with pytest.raises(MachineError, match=re.escape(
            "machine field 'l0_a_bytes' = 256 is smaller than one 16x16 fp16 tile (512 bytes)")):
        replace(mpe_rows=16, mpe_cols=16, l0_a_bytes=256)
    with pytest.raises(MachineError, match="'l0_b_bytes' = 4096 is smaller than one 64x64 fp16 tile"):
        replace(mpe_rows=64, mpe_cols=64, l0_a_bytes=8192, l0_b_bytes=4096)
    with pytest.raises(MachineError, match=re.escape("'acc_bytes' = 258 must be a multiple of 4")):
        replace(acc_bytes=258)
    with pytest.raises(MachineError, match="'acc_bytes' = 1024 is smaller than one 32x32 fp32 tile"):
        replace(mpe_rows=32, mpe_cols=32, acc_bytes=1024)


def test_error_bad_fp16_format():
    with pytest.raises(MachineError, match=re.escape(
            "machine field 'fp16_format' = 'bf16' is not one of 'ieee', 'dlfloat16'")):
        replace(fp16_format="bf16")


def test_docs_describe_every_field():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "machine.md").read_text()
    missing = [name for name in FIELD_NAMES if f"`{name}`" not in doc]
    assert not missing
    for name in PRESETS:
        assert f"`{name}`" in doc
