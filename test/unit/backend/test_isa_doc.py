"""docs/isa.md embeds the instruction reference generated from the ISA table, up to date."""

from pathlib import Path

from rapid_mlir.backend.isa import INSTRUCTIONS
from rapid_mlir.backend.isa_doc import BEGIN, END, reference

DOC = Path(__file__).resolve().parents[3] / "docs" / "isa.md"


def test_generated_reference_is_current():
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] + "\n" == reference(), (
        "docs/isa.md is stale: regenerate with `python -m rapid_mlir.backend.isa_doc`")


def test_every_instruction_is_documented():
    text = DOC.read_text()
    for m, spec in INSTRUCTIONS.items():
        assert f"### `{m}` (opcode 0x{spec.opcode:02x}" in text
