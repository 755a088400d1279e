"""The accelerator's 16-bit storage formats, vectorised in numpy.

The machine description picks how tensors are stored in memory: ``"ieee"``
(IEEE 754 binary16, the default) or ``"dlfloat16"`` (IBM's DLFloat16).
Arithmetic accumulates in fp32; values are rounded to the storage format
whenever they are written back.  This module converts between float32 values
and the 16-bit storage bits of either format:

* :func:`to_fp16_bits`   float32 array -> uint16 storage bits
* :func:`from_fp16_bits` uint16 storage bits -> float32 values (exact)
* :func:`round_fp16`     float32 -> float32 values representable in the format
  (``from_fp16_bits(to_fp16_bits(x, fmt), fmt)``)

All three accept any shape, including 0-d, and return an array of the same
shape.  Inputs to :func:`to_fp16_bits` / :func:`round_fp16` are first converted
to float32 (a float64 input is therefore rounded twice: to fp32, then to 16
bits -- the accelerator never sees anything wider than fp32).

IEEE binary16 (``"ieee"``)
--------------------------
Bit layout ``s eeeee ffffffffff`` (1 sign, 5 exponent, 10 fraction bits),
bias 15, subnormals, +-inf and NaN.  Max finite 65504, min normal 2**-14,
min subnormal 2**-24, epsilon (ulp of 1.0) 2**-10.  Rounding is exactly
numpy's float32 -> float16 conversion: round to nearest, ties to even, with
gradual underflow; results of magnitude >= 65520 become inf; NaN stays NaN.

DLFloat16 (``"dlfloat16"``)
---------------------------
Bit layout ``s eeeeee fffffffff`` (1 sign, 6 exponent, 9 fraction bits),
bias 31.  Source: IBM's public reference conversion in onnx-mlir,
``src/Accelerators/NNPA/Support/Stickify/DLF16Conversion.hpp`` (class ``NNP1``,
used by ``fp32_to_dlf16`` / ``dlf16_to_fp32`` in ``Convert.cpp``); format from
Agrawal et al., "DLFloat: A 16-b Floating Point Format Designed for Deep
Learning Training and Inference", ARITH 2019.

* Every code (e, f) is the normal number ``(-1)**s * 2**(e-31) * (1 + f/512)``,
  including e = 0 and e = 63 -- there are no subnormals -- except:
* magnitude 0 (``0x0000`` / ``0x8000``) is signed zero.  Note that this means
  ``2**-31`` itself (e = 0, f = 0) is *not* representable;
* magnitude ``0x7FFF`` (e = 63, f = 511; codes ``0x7FFF`` / ``0xFFFF``) is the
  single special value standing for NaN and +-infinity alike.

Range: max finite ``DLF16_MAX = 2**32 * (1 + 510/512) = 8573157376.0``
(code ``0x7FFE``); smallest positive value
``DLF16_MIN_NORMAL = 2**-31 * (1 + 1/512)`` (code ``0x0001``; it is normal --
there are no subnormals -- and is the smallest representable magnitude, since
code 0 is zero); epsilon ``2**-9``.

fp32 -> DLFloat16, exactly as the reference (bit for bit):

1. Round on the fp32 bit pattern first: add ``1 << 13`` (half an ulp of the
   9-bit fraction) to the fp32 magnitude bits, letting a carry out of the
   fraction bump the exponent, then drop the low 14 bits.  This is round to
   nearest, ties away from zero.
2. Then range checks on the rounded value:

   * rounded magnitude ``>= 2**32 * (1 + 511/512)`` (i.e. it would land on
     the special magnitude or beyond), or input +-inf or NaN: the special code
     with the input's sign (``0x7FFF`` / ``0xFFFF``; NaN keeps its sign bit);
   * rounded magnitude ``<= 2**-31`` (biased exponent below 0, or exactly the
     e = 0, f = 0 pattern): signed zero.  Equivalently, every input with
     ``|x| < 2**-31 * (1 + 2**-10)`` flushes to signed zero (fp32 subnormals
     included), and ``|x| == 2**-31 * (1 + 2**-10)`` (the halfway point) rounds
     away from zero to ``0x0001``.  In particular ``2**-31`` -> zero, and
     values just below ``2**-31`` that round up into the e = 0 binade land on
     its f = 0 pattern and so also become zero.

DLFloat16 -> fp32 is exact (every DLFloat16 value is an fp32 normal number).
The special code decodes to (positive, quiet) NaN, as the reference does: the
hardware's special value is NaN and +-inf alike, and the emulator reports it
as NaN (so an overflow to +-inf in storage reads back as NaN).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FORMATS",
    "DLF16_MAX",
    "DLF16_MIN_NORMAL",
    "DLF16_EPSILON",
    "DLF16_SPECIAL",
    "to_fp16_bits",
    "from_fp16_bits",
    "round_fp16",
    "describe_format",
]

FORMATS = ("ieee", "dlfloat16")

#: Largest finite DLFloat16 value, code 0x7FFE: 2**32 * (1 + 510/512).
DLF16_MAX = 2.0**32 * (1.0 + 510.0 / 512.0)
#: Smallest positive DLFloat16 value, code 0x0001: 2**-31 * (1 + 1/512).
#: (No subnormals; 2**-31 itself would be code 0x0000, which is zero.)
DLF16_MIN_NORMAL = 2.0**-31 * (1.0 + 1.0 / 512.0)
#: ulp of 1.0 in DLFloat16.
DLF16_EPSILON = 2.0**-9
#: Magnitude bits of the single NaN / +-inf code.
DLF16_SPECIAL = 0x7FFF

# fp32 magnitude bits >> 14 give (fp32 exponent << 9 | top 9 fraction bits);
# DLFloat16 exponent 0 is fp32 exponent 0 - 31 + 127 = 96.
_F32_TO_DLF16_OFFSET = 96 << 9  # 0xC000
_DLF16_ROUND = 1 << 13  # half an ulp of the 9-bit fraction, in fp32 bits
_F32_QNAN_BITS = 0x7FC00000

_DLF16_DECODE_TABLE: np.ndarray | None = None


def _check_fmt(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown 16-bit storage format {fmt!r}; expected one of {', '.join(map(repr, FORMATS))}")


def _as_f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _as_u16(bits) -> np.ndarray:
    arr = np.asarray(bits)
    if arr.dtype == np.uint16:
        return arr
    if arr.dtype.kind not in "iu":
        raise TypeError(f"16-bit storage bits must be an integer array (ideally uint16), got {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFF):
        raise ValueError("16-bit storage bits must lie in 0..0xFFFF")
    return arr.astype(np.uint16)


def _dlf16_encode(x: np.ndarray) -> np.ndarray:
    """float32 array -> DLFloat16 codes (see module docstring for the rule)."""
    flat = np.ascontiguousarray(x).reshape(-1).view(np.uint32)
    mag = flat & np.uint32(0x7FFFFFFF)
    # Round half away from zero on the bit pattern (max 0x80001FFF: no wrap).
    rounded = (mag + np.uint32(_DLF16_ROUND)) >> np.uint32(14)
    # Clip does both range checks at once: <= offset -> code 0 (zero),
    # >= offset + 0x7FFF -> the special code (overflow, inf, NaN).
    np.clip(rounded, _F32_TO_DLF16_OFFSET, _F32_TO_DLF16_OFFSET + DLF16_SPECIAL, out=rounded)
    rounded -= np.uint32(_F32_TO_DLF16_OFFSET)
    rounded |= (flat >> np.uint32(16)) & np.uint32(0x8000)  # sign
    return rounded.astype(np.uint16).reshape(x.shape)


def _dlf16_table() -> np.ndarray:
    global _DLF16_DECODE_TABLE
    if _DLF16_DECODE_TABLE is None:
        codes = np.arange(1 << 16, dtype=np.uint32)
        mag = codes & np.uint32(0x7FFF)
        out = ((codes & np.uint32(0x8000)) << np.uint32(16)) | ((mag + np.uint32(_F32_TO_DLF16_OFFSET)) << np.uint32(14))
        out[mag == 0] = codes[mag == 0] << np.uint32(16)  # signed zero
        out[mag == DLF16_SPECIAL] = _F32_QNAN_BITS  # NaN / +-inf -> NaN
        table = out.view(np.float32)
        table.setflags(write=False)
        _DLF16_DECODE_TABLE = table
    return _DLF16_DECODE_TABLE


def to_fp16_bits(x: np.ndarray, fmt: str) -> np.ndarray:
    """Round float32 values to the 16-bit format ``fmt`` and return its uint16 bits.

    ``"ieee"``: numpy's float32 -> float16 (round to nearest even).
    ``"dlfloat16"``: onnx-mlir's reference rule (ties away from zero, no
    subnormals, flush to signed zero, saturate to the NaN/inf code 0x7FFF with
    sign); see the module docstring for the exact boundaries.
    """
    _check_fmt(fmt)
    arr = _as_f32(x)
    if fmt == "ieee":
        with np.errstate(over="ignore"):  # overflow to inf is the defined behaviour
            return arr.astype(np.float16).view(np.uint16)
    return _dlf16_encode(arr)


def from_fp16_bits(bits: np.ndarray, fmt: str) -> np.ndarray:
    """Decode uint16 storage bits of format ``fmt`` to exact float32 values.

    For ``"dlfloat16"`` the special code (0x7FFF / 0xFFFF, NaN and +-inf alike)
    decodes to NaN.
    """
    _check_fmt(fmt)
    arr = _as_u16(bits)
    if fmt == "ieee":
        return arr.view(np.float16).astype(np.float32)
    return _dlf16_table()[arr.reshape(-1)].reshape(arr.shape)


def round_fp16(x: np.ndarray, fmt: str) -> np.ndarray:
    """Round float32 values to the nearest value of ``fmt``, returned as float32.

    Same as ``from_fp16_bits(to_fp16_bits(x, fmt), fmt)``.
    """
    _check_fmt(fmt)
    arr = _as_f32(x)
    if fmt == "ieee":
        with np.errstate(over="ignore"):
            return arr.astype(np.float16).astype(np.float32)
    return _dlf16_table()[_dlf16_encode(arr).reshape(-1)].reshape(arr.shape)


def describe_format(fmt: str) -> dict:
    """Key facts about a 16-bit storage format, as plain Python numbers.

    Keys: name, exponent_bits, fraction_bits, bias, max (largest finite),
    min_normal (smallest positive normal), min_positive (smallest positive,
    subnormals included), epsilon (ulp of 1.0), subnormals, rounding,
    special (how NaN / inf are stored).
    """
    _check_fmt(fmt)
    if fmt == "ieee":
        return {
            "name": "ieee",
            "exponent_bits": 5,
            "fraction_bits": 10,
            "bias": 15,
            "max": 65504.0,
            "min_normal": 2.0**-14,
            "min_positive": 2.0**-24,
            "epsilon": 2.0**-10,
            "subnormals": True,
            "rounding": "nearest, ties to even; overflow to inf",
            "special": "IEEE inf (exponent 31, fraction 0) and NaN (exponent 31, fraction != 0)",
        }
    return {
        "name": "dlfloat16",
        "exponent_bits": 6,
        "fraction_bits": 9,
        "bias": 31,
        "max": DLF16_MAX,
        "min_normal": DLF16_MIN_NORMAL,
        "min_positive": DLF16_MIN_NORMAL,
        "epsilon": DLF16_EPSILON,
        "subnormals": False,
        "rounding": "nearest, ties away from zero; underflow flushes to signed zero; overflow saturates to the special code",
        "special": "single code 0x7FFF/0xFFFF for NaN and +-inf alike (decoded as NaN)",
    }


def encode_array(values: np.ndarray, dtype, fmt: str) -> bytes:
    """Float values as the bytes they occupy in device memory: `dtype` is an
    `isa.DType` (F16 in the 16-bit format `fmt`, F32 as IEEE little-endian)."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if dtype.name == "F32":
        return values.astype("<f4").tobytes()
    return to_fp16_bits(values, fmt).astype("<u2").tobytes()


def decode_array(data: bytes, dtype, shape: tuple[int, ...], fmt: str) -> np.ndarray:
    """Device bytes as a float32 array of `shape` (the inverse of `encode_array`)."""
    if dtype.name == "F32":
        return np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(shape)
    return from_fp16_bits(np.frombuffer(data, dtype="<u2"), fmt).reshape(shape)
