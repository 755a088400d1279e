"""16-bit storage formats: IEEE binary16 against numpy, DLFloat16 against a scalar
transcription of IBM's reference conversion (onnx-mlir DLF16Conversion.hpp, NNP1)."""

import math
import struct

import numpy as np
import pytest

from rapid_mlir.emulator.numerics import (
    DLF16_MAX,
    DLF16_MIN_NORMAL,
    describe_format,
    from_fp16_bits,
    round_fp16,
    to_fp16_bits,
)

# --------------------------------------------------------------------------------------
# Scalar reference, one float at a time, transcribed from the onnx-mlir algorithm.


def f32_bits(v: float) -> int:
    return struct.unpack("<I", struct.pack("<f", v))[0]


def bits_f32(u: int) -> float:
    return struct.unpack("<f", struct.pack("<I", u))[0]


# Largest fp32 magnitude that does not round onto the special code: exponent
# 63 - 31 + 127 = 159, top fraction bits 510, low 13 bits all ones.
REF_NMAX = (159 << 23) | (510 << 14) | ((1 << 13) - 1)


def ref_encode(v: float) -> int:
    u = f32_bits(v)
    sign = u >> 31
    exponent = ((u >> 23) & 0xFF) - 127 + 31
    fraction = (u & 0x7FFFFF) + (1 << 13)  # half an ulp of the 9-bit fraction
    if fraction > 0x7FFFFF:  # carry into the exponent
        fraction = 0
        exponent += 1
    out = sign << 15
    if exponent >= 0:
        if (u & 0x7FFFFFFF) <= REF_NMAX:
            out |= (exponent << 9) | (fraction >> 14)
        else:
            out |= 0x7FFF  # overflow, inf, NaN
    return out  # exponent < 0: signed zero


def ref_decode(code: int) -> float:
    s, e, f = code >> 15, (code >> 9) & 0x3F, code & 0x1FF
    if e == 0 and f == 0:
        return -0.0 if s else 0.0
    if e == 63 and f == 511:
        return math.nan
    return (-1.0) ** s * math.ldexp(1.0 + f / 512.0, e - 31)


def ref_encode_array(x: np.ndarray) -> np.ndarray:
    return np.array([ref_encode(float(v)) for v in x.ravel()], dtype=np.uint16)


# --------------------------------------------------------------------------------------
# IEEE binary16


def ieee_edges() -> np.ndarray:
    vals = [0.0, -0.0, 1.0, -1.0, 65504.0, -65504.0, 65519.99, 65520.0, -65520.0, 1e6,
            2.0**-14, 2.0**-24, 2.0**-25, 1.5 * 2.0**-25, 2.0**-26, 1e-10, 3 * 2.0**-24 / 2,
            1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, np.inf, -np.inf, np.nan, -np.nan,
            np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45]
    return np.array(vals, dtype=np.float32)


def test_ieee_matches_numpy_bit_for_bit():
    rng = np.random.default_rng(1)
    x = np.concatenate([ieee_edges(),
                        rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
                        (rng.standard_normal(10_000) * 10.0 ** rng.integers(-8, 6, 10_000)).astype(np.float32)])
    with np.errstate(over="ignore"):
        want = x.astype(np.float16).view(np.uint16)
    np.testing.assert_array_equal(to_fp16_bits(x, "ieee"), want)
    codes = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    np.testing.assert_array_equal(from_fp16_bits(codes, "ieee"), codes.view(np.float16).astype(np.float32))


def test_ieee_literals():
    enc = lambda v: int(to_fp16_bits(np.float32(v), "ieee"))  # noqa: E731
    assert enc(1.0) == 0x3C00
    assert enc(65504.0) == 0x7BFF
    assert enc(65519.99) == 0x7BFF
    assert enc(65520.0) == 0x7C00  # overflow to inf
    assert enc(-65520.0) == 0xFC00
    assert enc(-0.0) == 0x8000
    assert enc(2.0**-24) == 0x0001  # smallest subnormal
    assert enc(2.0**-25) == 0x0000  # tie -> even (zero)
    assert enc(1.0 + 2.0**-11) == 0x3C00  # tie -> even
    assert enc(1.0 + 3 * 2.0**-11) == 0x3C02  # tie -> even
    nan = enc(np.nan)
    assert nan & 0x7C00 == 0x7C00 and nan & 0x03FF
    assert np.isnan(round_fp16(np.float32(np.nan), "ieee"))


# --------------------------------------------------------------------------------------
# DLFloat16 against the scalar reference


def test_dlf16_decode_all_codes():
    codes = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    got = from_fp16_bits(codes, "dlfloat16")
    assert got.dtype == np.float32 and got.shape == (1 << 16,)
    want = np.array([ref_decode(c) for c in range(1 << 16)], dtype=np.float64)
    nan = np.isnan(want)
    assert nan.sum() == 2 and nan[0x7FFF] and nan[0xFFFF]
    np.testing.assert_array_equal(np.isnan(got), nan)
    # every finite code is exact in float32 (compare as float64: no rounding hides anything)
    np.testing.assert_array_equal(got[~nan].astype(np.float64), want[~nan])
    np.testing.assert_array_equal(np.signbit(got[~nan]), np.signbit(want[~nan]))


def dlf16_corners() -> list[float]:
    half_max = 2.0**32 * (1 + 1021 / 1024)  # halfway between 0x7FFE and the special code
    half_min = 2.0**-31 * (1 + 2.0**-10)  # halfway between 2**-31 (code 0) and 0x0001
    below = lambda v: float(np.nextafter(np.float32(v), np.float32(0)))  # noqa: E731
    above = lambda v: float(np.nextafter(np.float32(v), np.float32(np.inf)))  # noqa: E731
    vals = [0.0, 1.0, 2.0, 0.1, 3.0, 65504.0, 1e-20, 1e-45, 3.4e38, np.inf, np.nan,
            1 + 2.0**-10, 1 + 3 * 2.0**-10, 1 + 5 * 2.0**-10, below(1 + 2.0**-10), above(1 + 2.0**-10),
            2 - 2.0**-10, below(2 - 2.0**-10), 2 - 2.0**-9,
            DLF16_MAX, above(DLF16_MAX), half_max, below(half_max), above(half_max), 2.0**32, 2.0**33,
            2.0**-31, below(2.0**-31), above(2.0**-31), DLF16_MIN_NORMAL, half_min, below(half_min),
            above(half_min), 2.0**-32 * (2 - 2.0**-10), 2.0**-30, below(2.0**-30), 2.0**-32]
    return vals + [-v for v in vals]


def test_dlf16_encode_matches_reference():
    rng = np.random.default_rng(2)
    everywhere = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    # exponents around the DLF16 range (fp32 exponent 96..159) and the boundaries
    in_range = ((rng.integers(0, 2, 100_000, dtype=np.uint32) << 31)
                | (rng.integers(90, 166, 100_000).astype(np.uint32) << 23)
                | rng.integers(0, 1 << 23, 100_000).astype(np.uint32))
    # exact ties and one fp32 ulp either side of them
    ties = (in_range[:30_000] & np.uint32(0xFFFFC000)) | np.uint32(0x2000)
    near_ties = np.concatenate([ties - np.uint32(1), ties + np.uint32(1)])
    x = np.concatenate([np.array(dlf16_corners(), dtype=np.float32),
                        everywhere.view(np.float32), in_range.view(np.float32),
                        ties.view(np.float32), near_ties.view(np.float32)])
    got = to_fp16_bits(x, "dlfloat16")
    assert got.dtype == np.uint16 and got.shape == x.shape
    want = ref_encode_array(x)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(float(x[i]), hex(got[i]), hex(want[i])) for i in bad[:5]]


def test_dlf16_literals():
    enc = lambda v: int(to_fp16_bits(np.float32(v), "dlfloat16"))  # noqa: E731
    dec = lambda c: float(from_fp16_bits(np.uint16(c), "dlfloat16"))  # noqa: E731
    assert enc(1.0) == 0x3E00  # exponent 31 << 9
    assert enc(-2.0) == 0xC000
    assert enc(0.1) == 0x3733  # fp32 0x3DCCCCCD: e = 123 - 96 = 27, f = (0x4CCCCD + 0x2000) >> 14 = 0x133
    assert enc(65504.0) == 0x5E00  # 2**15 * (1 + 511.5/512) rounds away to 2**16: e = 47
    assert enc(1 + 2.0**-10) == 0x3E01  # tie: away from zero (even would be 0x3E00)
    assert enc(-(1 + 2.0**-10)) == 0xBE01
    assert enc(1 + 5 * 2.0**-10) == 0x3E03  # tie: away (even would be 0x3E02)
    assert enc(2 - 2.0**-10) == 0x4000  # rounds up into the next binade
    assert enc(DLF16_MAX) == 0x7FFE
    assert enc(2.0**32 * (1 + 1021 / 1024)) == 0x7FFF  # tie above max saturates
    assert enc(-(2.0**33)) == 0xFFFF
    assert enc(np.inf) == 0x7FFF and enc(-np.inf) == 0xFFFF
    assert enc(np.nan) == 0x7FFF
    assert enc(2.0**-30) == 0x0200
    assert enc(DLF16_MIN_NORMAL) == 0x0001
    assert enc(2.0**-31 * (1 + 2.0**-10)) == 0x0001  # tie at the bottom: away from zero
    assert enc(2.0**-31) == 0x0000  # e = 0, f = 0 is zero: 2**-31 is not representable
    assert enc(-(2.0**-31)) == 0x8000
    assert enc(2.0**-32 * (2 - 2.0**-10)) == 0x0000  # rounds up onto 2**-31, i.e. zero
    assert enc(-1e-45) == 0x8000  # fp32 subnormal flushes to signed zero
    assert dec(0x3E00) == 1.0
    assert dec(0x0001) == 2.0**-31 * (1 + 1 / 512) == DLF16_MIN_NORMAL
    assert dec(0x7FFE) == 8573157376.0 == DLF16_MAX
    assert dec(0x7E00) == 2.0**32  # exponent 63 is an ordinary exponent
    assert math.isnan(dec(0x7FFF)) and math.isnan(dec(0xFFFF))
    assert dec(0x8000) == 0.0 and math.copysign(1.0, dec(0x8000)) == -1.0


def test_dlf16_round_trip_every_code():
    codes = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    codes = codes[(codes & 0x7FFF) != 0x7FFF]
    np.testing.assert_array_equal(to_fp16_bits(from_fp16_bits(codes, "dlfloat16"), "dlfloat16"), codes)


# --------------------------------------------------------------------------------------
# Both formats


@pytest.mark.parametrize("fmt", ["ieee", "dlfloat16"])
def test_round_is_from_to_and_idempotent(fmt):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(0, 2**32, 50_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
                        (rng.standard_normal(50_000) * 10.0 ** rng.integers(-12, 12, 50_000)).astype(np.float32),
                        np.array(dlf16_corners(), dtype=np.float32), ieee_edges()])
    r = round_fp16(x, fmt)
    assert r.dtype == np.float32
    np.testing.assert_array_equal(r, from_fp16_bits(to_fp16_bits(x, fmt), fmt))
    np.testing.assert_array_equal(round_fp16(r, fmt), r)
    np.testing.assert_array_equal(np.signbit(r[r == 0]), np.signbit(x[r == 0]))


@pytest.mark.parametrize("fmt", ["ieee", "dlfloat16"])
def test_shapes_and_layouts(fmt):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    flat = to_fp16_bits(x.ravel(), fmt)
    for arr in (x, np.asfortranarray(x), x[:, ::2, ::-1], x.transpose(2, 0, 1)):
        bits = to_fp16_bits(arr, fmt)
        assert bits.dtype == np.uint16 and bits.shape == arr.shape
        np.testing.assert_array_equal(bits, to_fp16_bits(np.array(arr, order="C"), fmt))
        out = from_fp16_bits(bits, fmt)
        assert out.dtype == np.float32 and out.shape == arr.shape
        np.testing.assert_array_equal(round_fp16(arr, fmt), out)
    np.testing.assert_array_equal(to_fp16_bits(x, fmt).ravel(), flat)
    for scalar in (np.float32(1.5), np.asarray(1.5, dtype=np.float32), 1.5):
        bits = to_fp16_bits(scalar, fmt)
        assert isinstance(bits, np.ndarray) and bits.shape == () and bits.dtype == np.uint16
        out = from_fp16_bits(bits, fmt)
        assert isinstance(out, np.ndarray) and out.shape == () and float(out) == 1.5
        r = round_fp16(scalar, fmt)
        assert isinstance(r, np.ndarray) and r.shape == () and float(r) == 1.5
    empty = np.zeros((0, 3), np.float32)
    assert to_fp16_bits(empty, fmt).shape == (0, 3) and round_fp16(empty, fmt).shape == (0, 3)
    assert from_fp16_bits(np.zeros((0,), np.uint16), fmt).shape == (0,)


def test_describe_format_matches_the_codes():
    for fmt, max_code, min_code, one_plus in (("ieee", 0x7BFF, 0x0400, 0x3C01), ("dlfloat16", 0x7FFE, 0x0001, 0x3E01)):
        d = describe_format(fmt)
        dec = lambda c: float(from_fp16_bits(np.uint16(c), fmt))  # noqa: E731,B023
        assert d["max"] == dec(max_code)
        assert d["min_normal"] == dec(min_code)
        assert d["epsilon"] == dec(one_plus) - 1.0
        above = float(round_fp16(np.float32(d["max"] * (1 + d["epsilon"])), fmt))
        assert math.isinf(above) if fmt == "ieee" else math.isnan(above)  # dlfloat16 saturates to NaN/inf code
    assert describe_format("ieee")["max"] == 65504.0 and describe_format("ieee")["epsilon"] == 2.0**-10
    assert describe_format("dlfloat16")["epsilon"] == 2.0**-9 and describe_format("dlfloat16")["bias"] == 31
    assert DLF16_MAX == 2.0**32 * (1 + 510 / 512)


def test_unknown_format_is_named():
    for fn, arg in ((to_fp16_bits, np.ones(2, np.float32)), (from_fp16_bits, np.ones(2, np.uint16)),
                    (round_fp16, np.ones(2, np.float32))):
        with pytest.raises(ValueError, match="'bf16'"):
            fn(arg, "bf16")
    with pytest.raises(ValueError, match="'IEEE'"):
        describe_format("IEEE")
