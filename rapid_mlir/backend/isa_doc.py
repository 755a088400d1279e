"""Generates the instruction reference of docs/isa.md from the ISA table.

    python -m rapid_mlir.backend.isa_doc > /tmp/ref.md

docs/isa.md embeds this output between the markers below; a unit test checks that it
is up to date, so the document cannot drift from `isa.INSTRUCTIONS` or the encoding.
"""

from __future__ import annotations

from rapid_mlir.backend.isa import INSTRUCTIONS, Kind

BEGIN = "<!-- BEGIN GENERATED INSTRUCTION REFERENCE -->"
END = "<!-- END GENERATED INSTRUCTION REFERENCE -->"

_KIND_TEXT = {
    Kind.REG: "register `rN`", Kind.IMM: "32-bit signed integer", Kind.FIMM: "fp32 immediate",
    Kind.COUNT: "trip count 1..2^24-1", Kind.LEN: "body length 1..2^16-1", Kind.SEM: "semaphore `sN`",
    Kind.CORE: "target core `@N`", Kind.AP: "access pattern", Kind.AP_PAD: "access pattern with pads",
    Kind.WINDOW: "window `{size:stride, ...}`", Kind.HOST_OP: "host-op manifest entry 0..2^16-1",
}


def _fields(mnemonic: str) -> str:
    try:
        from rapid_mlir.backend.encoding import FORMATS
    except ImportError:
        return ""
    fields = FORMATS[mnemonic]
    total = sum(f.bits for f in fields)
    words = -(-total // 64)
    rows = ", ".join(f"`{f.name}`:{f.bits}{'s' if f.signed else ''}" for f in fields)
    return f"- encoding: {total} bits in {words} x 64-bit words, LSB first: {rows}\n"


def reference() -> str:
    """The generated markdown (one subsection per instruction)."""
    out = [BEGIN, ""]
    for spec in INSTRUCTIONS.values():
        ops = ", ".join(f"{o.name}{'?' if o.optional else ''}" for o in spec.operands)
        out.append(f"### `{spec.mnemonic}` (opcode 0x{spec.opcode:02x}, {spec.engine.value} streams)")
        out.append("")
        out.append(f"- syntax: `{spec.mnemonic}{' ' + ops if ops else ''}`; dialect op `{spec.op_name}`")
        if spec.operands:
            kinds = "; ".join(f"`{o.name}`: {_KIND_TEXT[o.kind]}{' (optional)' if o.optional else ''}"
                              for o in spec.operands)
            out.append(f"- operands: {kinds}")
        out.append(f"- semantics: `{spec.semantics}`")
        out.append(f"- cycles: `{spec.timing}`")
        fields = _fields(spec.mnemonic)
        if fields:
            out.append(fields.rstrip("\n"))
        out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
