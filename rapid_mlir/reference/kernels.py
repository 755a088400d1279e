"""NumPy float32 reference kernels: the executable semantics (the oracle) of the `nn` dialect.

Every `nn` op is defined by the kernel of the same name in this module. The kernels follow
ONNX semantics (the ONNX operator named in each docstring) and the NCHW layout: activations
of 2-D spatial ops are ``[batch, channels, height, width]`` and convolution weights are
``[out_channels, in_channels / groups, kernel_h, kernel_w]``. Where the ONNX specification
leaves room (pooling output sizes in ceil mode, the divisor of overhanging average-pooling
windows), the kernels match onnxruntime's CPU execution provider, which is the independent
oracle they are tested against (``test/unit/reference/test_kernels_vs_onnxruntime.py``).

Conventions:

* Floating-point inputs are converted to float32 on entry and every result is a float32
  ``np.ndarray``; arithmetic is done in float32 (special functions such as ``erf`` are
  evaluated in float64 and rounded). Gather indices are integer arrays.
* Attributes are keyword-only. Spatial padding is given in ONNX order, all begins then all
  ends: ``pads = (top, left, bottom, right)`` for 2-D ops and
  ``[x1_begin, x2_begin, ..., x1_end, x2_end]`` for ``pad``.
* Invalid arguments raise ``ValueError`` with a message naming the kernel.

This module is pure NumPy: it imports neither xDSL nor onnx, so it can be read (and used)
as a specification on its own.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "conv2d", "matmul", "gemm",
    "add", "sub", "mul", "div", "maximum", "minimum",
    "relu", "sigmoid", "tanh", "erf", "exp", "sqrt", "pow", "gelu", "clip", "softmax",
    "max_pool2d", "avg_pool2d", "global_avg_pool",
    "batch_norm", "layer_norm", "lrn", "reduce",
    "concat", "split", "reshape", "flatten", "transpose", "pad", "gather",
    "lstm", "gru",
]

F32 = np.float32


# --------------------------------------------------------------------------- helpers


def _f32(x) -> np.ndarray:
    """The operand as a float32 array (no copy when it already is one)."""
    return np.asarray(x, dtype=F32)


def _out(x) -> np.ndarray:
    """A kernel result: always a float32 ndarray (never a NumPy scalar)."""
    return np.asarray(x, dtype=F32)


def _data(x) -> np.ndarray:
    """A data-movement operand: floats as float32, integer tensors kept exactly."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.integer) else x.astype(F32, copy=False)


def _ints(name: str, what: str, values, n: int) -> tuple[int, ...]:
    values = tuple(int(v) for v in values)
    if len(values) != n:
        raise ValueError(f"{name}: {what} needs {n} values, got {values}")
    return values


def _axis(name: str, axis: int, rank: int) -> int:
    """Normalises a possibly negative axis into [0, rank)."""
    if not -rank <= axis < rank:
        raise ValueError(f"{name}: axis {axis} is out of range for rank {rank}")
    return axis % rank


def _default(value, default):
    return default if value is None else value


# --------------------------------------------------------------------------- convolution / matmul


def _activation(y: np.ndarray, act_min, act_max) -> np.ndarray:
    """The fused activation of conv2d and gemm: ``y`` clamped to ``[act_min, act_max]``
    (``None`` unbounded), as ``clip`` (the lower bound first)."""
    if act_min is not None:
        y = np.maximum(y, F32(act_min))
    if act_max is not None:
        y = np.minimum(y, F32(act_max))
    return y


def conv2d(x, w, b=None, *, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), groups=1,
           act_min=None, act_max=None) -> np.ndarray:
    """2-D convolution (ONNX ``Conv`` on 4-D tensors; cross-correlation, no kernel flip).

    ``x`` is ``[N, C, H, W]``, ``w`` is ``[O, C / groups, kh, kw]`` and the optional bias ``b``
    is ``[O]``. ``strides`` and ``dilations`` are ``(h, w)``; ``pads = (top, left, bottom,
    right)`` are zero paddings. With ``groups = g`` the channels are split into ``g`` equal
    groups and output group ``i`` (``O / g`` channels) only sees input group ``i``
    (``groups = C = O`` is a depthwise convolution). The output is ``[N, O, OH, OW]`` with
    ``OH = (H + top + bottom - dh * (kh - 1) - 1) // sh + 1`` (and likewise ``OW``).
    ``act_min`` / ``act_max`` clamp the result after the bias (``nn.conv2d``'s fused
    activation; ONNX writes it as a following ``Relu`` or ``Clip``).
    """
    x, w = _f32(x), _f32(w)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d: expected 4-D input and weight, got shapes {x.shape} and {w.shape}")
    sh, sw = _ints("conv2d", "strides", strides, 2)
    pt, pl, pb, pr = _ints("conv2d", "pads", pads, 4)
    dh, dw = _ints("conv2d", "dilations", dilations, 2)
    groups = int(groups)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if min(sh, sw, dh, dw) < 1 or min(pt, pl, pb, pr) < 0:
        raise ValueError("conv2d: strides and dilations must be >= 1 and pads >= 0")
    if groups < 1 or c % groups or o % groups:
        raise ValueError(f"conv2d: channels in ({c}) and out ({o}) must be divisible by groups ({groups})")
    if cg != c // groups:
        raise ValueError(f"conv2d: weight has {cg} input channels per group, expected {c} / {groups} = {c // groups}")
    if b is not None:
        b = _f32(b)
        if b.shape != (o,):
            raise ValueError(f"conv2d: bias must have shape ({o},), got {b.shape}")
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: the dilated kernel ({kh}x{kw}, dilations {dh}x{dw}) does not fit "
                         f"the padded input {h + pt + pb}x{wd + pl + pr}")

    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    # im2col: one strided view of the padded input per kernel offset -> [N, C, kh, kw, OH, OW].
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=F32)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                                  j * dw: j * dw + sw * (ow - 1) + 1: sw]
    g = groups
    cols = cols.reshape(n, g, cg * kh * kw, oh * ow)
    wg = w.reshape(g, o // g, cg * kh * kw)
    y = np.matmul(wg, cols)  # [N, G, O/G, OH*OW]
    y = y.reshape(n, o, oh, ow)
    if b is not None:
        y = y + b.reshape(1, o, 1, 1)
    return _out(_activation(y, act_min, act_max))


def matmul(a, b) -> np.ndarray:
    """Matrix product (ONNX ``MatMul``), i.e. ``numpy.matmul``.

    1-D operands are promoted to a matrix (a row vector on the left, a column vector on the
    right) and the inserted dimension is removed from the result; leading (batch) dimensions
    broadcast with NumPy rules.
    """
    a, b = _f32(a), _f32(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have rank >= 1")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: contraction dimensions differ for shapes {a.shape} and {b.shape}")
    return _out(np.matmul(a, b))


def gemm(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=1.0,
         act_min=None, act_max=None) -> np.ndarray:
    """General matrix multiply (ONNX ``Gemm``): ``alpha * A' @ B' + beta * C``.

    ``A' = A.T`` if ``trans_a`` else ``A`` (``[M, K]`` after transposition), likewise ``B'``
    (``[K, N]``). The optional ``C`` is unidirectionally broadcast to ``[M, N]`` (it may be a
    scalar, ``[N]``, ``[1, N]``, ``[M, 1]`` or ``[M, N]``); without ``C`` the term is zero.
    ``act_min`` / ``act_max`` clamp the result (``nn.gemm``'s fused activation).
    """
    a, b = _f32(a), _f32(b)
    alpha, beta = F32(_default(alpha, 1.0)), F32(_default(beta, 1.0))
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm: A and B must be 2-D, got shapes {a.shape} and {b.shape}")
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm: inner dimensions differ: A' is {a.shape}, B' is {b.shape}")
    y = alpha * (a @ b)
    if c is not None:
        c = _f32(c)
        m, n = y.shape
        try:
            if np.broadcast_shapes(c.shape, (m, n)) != (m, n):
                raise ValueError
        except ValueError:
            raise ValueError(f"gemm: C of shape {c.shape} cannot be broadcast to ({m}, {n})") from None
        y = y + beta * c
    return _out(_activation(y, act_min, act_max))


# --------------------------------------------------------------------------- elementwise


def _binary(name: str, fn, a, b) -> np.ndarray:
    a, b = _f32(a), _f32(b)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast") from None
    return _out(fn(a, b))


def add(a, b) -> np.ndarray:
    """Elementwise ``a + b`` with NumPy (multidirectional) broadcasting (ONNX ``Add``)."""
    return _binary("add", np.add, a, b)


def sub(a, b) -> np.ndarray:
    """Elementwise ``a - b`` with NumPy broadcasting (ONNX ``Sub``)."""
    return _binary("sub", np.subtract, a, b)


def mul(a, b) -> np.ndarray:
    """Elementwise ``a * b`` with NumPy broadcasting (ONNX ``Mul``)."""
    return _binary("mul", np.multiply, a, b)


def div(a, b) -> np.ndarray:
    """Elementwise IEEE ``a / b`` with NumPy broadcasting (ONNX ``Div``); ``x / 0`` is ``±inf``/``nan``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _binary("div", np.divide, a, b)


def maximum(a, b) -> np.ndarray:
    """Elementwise maximum with NumPy broadcasting (ONNX ``Max`` with two inputs)."""
    return _binary("maximum", np.maximum, a, b)


def minimum(a, b) -> np.ndarray:
    """Elementwise minimum with NumPy broadcasting (ONNX ``Min`` with two inputs)."""
    return _binary("minimum", np.minimum, a, b)


def relu(x) -> np.ndarray:
    """``max(x, 0)`` elementwise (ONNX ``Relu``)."""
    return _out(np.maximum(_f32(x), F32(0)))


def sigmoid(x) -> np.ndarray:
    """``1 / (1 + exp(-x))`` elementwise (ONNX ``Sigmoid``), evaluated without overflow."""
    x = _f32(x)
    # exp of a non-positive argument never overflows: use exp(-|x|) on both branches.
    e = np.exp(-np.abs(x))
    return _out(np.where(x >= 0, F32(1) / (F32(1) + e), e / (F32(1) + e)))


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent elementwise (ONNX ``Tanh``)."""
    return _out(np.tanh(_f32(x)))


# Maclaurin series of erf on |x| < 2 (float64, 40 terms: the error is below 1e-15 there).
_ERF_SERIES_TERMS = 40
# Chebyshev-fitted erfc (Numerical Recipes `erfcc`), relative error < 1.2e-7, used for |x| >= 2
# where erfc(x) < 5e-3, so erf = 1 - erfc is accurate to < 1e-9 absolute.
_ERFC_COEFFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erf64(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    small = ax < 2.0
    # Series: erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)).
    xs = np.where(small, x, 0.0)
    x2 = xs * xs
    term = xs.copy()
    total = xs.copy()
    for n in range(1, _ERF_SERIES_TERMS):
        term = term * (-x2 / n)
        total = total + term / (2 * n + 1)
    series = total * (2.0 / math.sqrt(math.pi))
    # Tail: erf(x) = sign(x) * (1 - erfc(|x|)).
    t = 1.0 / (1.0 + 0.5 * np.where(small, 2.0, ax))
    poly = np.zeros_like(t)
    for coeff in reversed(_ERFC_COEFFS):
        poly = poly * t + coeff
    tail = np.sign(x) * (1.0 - t * np.exp(-ax * ax + poly))
    return np.where(small, series, tail)


def erf(x) -> np.ndarray:
    """The Gauss error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt`` elementwise (ONNX ``Erf``).

    Evaluated in float64 (series for ``|x| < 2``, rational Chebyshev erfc beyond) and rounded
    to float32; the result is correct to within about one float32 ulp.
    """
    x = _f32(x)
    return _out(_erf64(x))


def exp(x) -> np.ndarray:
    """``e ** x`` elementwise (ONNX ``Exp``); overflows to ``inf``."""
    with np.errstate(over="ignore"):
        return _out(np.exp(_f32(x)))


def sqrt(x) -> np.ndarray:
    """Square root elementwise (ONNX ``Sqrt``); negative inputs give ``nan``."""
    with np.errstate(invalid="ignore"):
        return _out(np.sqrt(_f32(x)))


def pow(x, *, exponent) -> np.ndarray:  # noqa: A001 - named after the op
    """``x ** exponent`` elementwise with a constant scalar exponent (ONNX ``Pow`` with a
    scalar exponent): a negative base gives ``nan`` unless the exponent is an integer,
    zero to a negative power gives ``inf``."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _out(np.power(_f32(x), F32(exponent)))


def gelu(x, *, approximate="none") -> np.ndarray:
    """Gaussian error linear unit (ONNX ``Gelu``, opset 20).

    ``approximate="none"``: ``0.5 * x * (1 + erf(x / sqrt(2)))``;
    ``approximate="tanh"``: ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))``.
    """
    x = _f32(x)
    if approximate == "none":
        cdf = 0.5 * (1.0 + _erf64(x.astype(np.float64) / math.sqrt(2.0)))
        return _out(x * cdf.astype(F32))
    if approximate == "tanh":
        inner = F32(math.sqrt(2.0 / math.pi)) * (x + F32(0.044715) * x * x * x)
        return _out(F32(0.5) * x * (F32(1) + np.tanh(inner)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def clip(x, *, min=None, max=None) -> np.ndarray:  # noqa: A002 - names follow ONNX
    """Clamps every element into ``[min, max]`` (ONNX ``Clip``, opset >= 11).

    ``None`` means unbounded on that side. As in ONNX, if ``min > max`` every element
    becomes ``max`` (the lower bound is applied first).
    """
    y = _f32(x)
    if min is not None:
        y = np.maximum(y, F32(min))
    if max is not None:
        y = np.minimum(y, F32(max))
    return _out(y)


def softmax(x, *, axis=-1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along the single axis ``axis`` (ONNX ``Softmax``, opset 13).

    Numerically stable: the maximum along ``axis`` is subtracted first.
    """
    x = _f32(x)
    axis = _axis("softmax", axis, x.ndim)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return _out(e / np.sum(e, axis=axis, keepdims=True))


# --------------------------------------------------------------------------- pooling


def _pool_geometry(name, x, kernel, strides, pads, dilations, ceil_mode):
    """Validates pooling arguments and returns (kernel, strides, pads, dilations, out sizes)."""
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D NCHW input, got shape {x.shape}")
    kernel = _ints(name, "kernel", kernel, 2)
    strides = _ints(name, "strides", strides, 2)
    pads = _ints(name, "pads", pads, 4)
    dilations = _ints(name, "dilations", dilations, 2)
    if min(kernel) < 1 or min(strides) < 1 or min(dilations) < 1 or min(pads) < 0:
        raise ValueError(f"{name}: kernel, strides and dilations must be >= 1 and pads >= 0")
    out = []
    for d in range(2):
        size, k, s, dil = x.shape[2 + d], kernel[d], strides[d], dilations[d]
        begin, end = pads[d], pads[d + 2]
        # onnxruntime rejects a pad as large as the kernel (a window could then be all padding).
        if begin >= k or end >= k:
            raise ValueError(f"{name}: pads {pads} must be smaller than the kernel {kernel}")
        span = size + begin + end - dil * (k - 1) - 1
        if span < 0:
            raise ValueError(f"{name}: the dilated kernel {kernel} does not fit the padded input {x.shape[2:]}")
        if ceil_mode:
            o = -(-span // s) + 1
            # A last window that would start in the end padding (past the input) is dropped.
            if (o - 1) * s >= size + begin:
                o -= 1
        else:
            o = span // s + 1
        out.append(o)
    return kernel, strides, pads, dilations, tuple(out)


def _windows(xp, kernel, strides, dilations, out):
    """Yields, per kernel offset, the strided view of the padded input ``xp`` it sees."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, strides, dilations, out
    for i in range(kh):
        for j in range(kw):
            yield xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]


def _pad_for_pool(x, kernel, strides, pads, dilations, out, value):
    """Pads the input with ``value`` by the explicit pads, plus whatever ceil-mode windows overhang."""
    widths = [(0, 0), (0, 0)]
    for d in range(2):
        size, begin = x.shape[2 + d], pads[d]
        needed = (out[d] - 1) * strides[d] + dilations[d] * (kernel[d] - 1) + 1
        widths.append((begin, max(needed - size - begin, 0)))
    return np.pad(x, widths, constant_values=value)


def max_pool2d(x, *, kernel, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), ceil_mode=False) -> np.ndarray:
    """2-D max pooling over NCHW (ONNX ``MaxPool``, first output only, storage_order 0).

    ``kernel``, ``strides`` and ``dilations`` are ``(h, w)``; ``pads = (top, left, bottom,
    right)`` are never selected (padding behaves as ``-inf``). The output size per spatial
    dimension is ``floor(span / s) + 1`` with ``span = size + pad_begin + pad_end -
    dilation * (k - 1) - 1``, or ``ceil(span / s) + 1`` when ``ceil_mode``, in which case a last
    window that would start at or after ``size + pad_begin`` (in padded coordinates, i.e. at
    or beyond the end of the input) is dropped, as onnxruntime (and PyTorch) do. Windows
    overhanging the padded input in ceil mode only see their in-bounds part. Each pad must
    be smaller than the kernel.
    """
    x = _f32(x)
    kernel, strides, pads, dilations, out = _pool_geometry("max_pool2d", x, kernel, strides, pads,
                                                           dilations, ceil_mode)
    xp = _pad_for_pool(x, kernel, strides, pads, dilations, out, -np.inf)
    y = None
    for view in _windows(xp, kernel, strides, dilations, out):
        y = view.copy() if y is None else np.maximum(y, view)
    return _out(y)


def avg_pool2d(x, *, kernel, strides=(1, 1), pads=(0, 0, 0, 0), ceil_mode=False,
               count_include_pad=False) -> np.ndarray:
    """2-D average pooling over NCHW (ONNX ``AveragePool``, dilations 1).

    Output sizes (and the ceil-mode rule) are those of :func:`max_pool2d`. Each output is the
    sum of the input elements in its window divided by:

    * ``count_include_pad=False``: the number of input (non-padding) elements in the window;
    * ``count_include_pad=True``: the number of window positions inside the *explicitly
      padded* input. Per dimension that is ``min(start + k, size + pad_end) - start`` with
      ``start`` the (possibly negative) window start in input coordinates, so begin/end
      padding counts, but the part of a ceil-mode window that overhangs past the end padding
      does not (onnxruntime's rule). The divisor is the product over the two dimensions.
    """
    x = _f32(x)
    kernel, strides, pads, dilations, out = _pool_geometry("avg_pool2d", x, kernel, strides, pads,
                                                           (1, 1), ceil_mode)
    xp = _pad_for_pool(x, kernel, strides, pads, dilations, out, 0.0)
    total = np.zeros(x.shape[:2] + out, dtype=F32)
    for view in _windows(xp, kernel, strides, dilations, out):
        total += view
    counts = []
    for d in range(2):
        size, k, s, begin, end = x.shape[2 + d], kernel[d], strides[d], pads[d], pads[d + 2]
        start = np.arange(out[d]) * s - begin
        if count_include_pad:
            counts.append(np.minimum(start + k, size + end) - start)
        else:
            counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
    divisor = np.outer(counts[0], counts[1]).astype(F32)
    return _out(total / divisor)


def global_avg_pool(x) -> np.ndarray:
    """Mean over all spatial dimensions, keeping them as size 1 (ONNX ``GlobalAveragePool``).

    ``[N, C, H, W] -> [N, C, 1, 1]`` (any rank >= 3: every axis from 2 on is averaged).
    """
    x = _f32(x)
    if x.ndim < 3:
        raise ValueError(f"global_avg_pool: expected rank >= 3 (N, C, spatial...), got shape {x.shape}")
    return _out(np.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True))


# --------------------------------------------------------------------------- normalisation


def batch_norm(x, scale, bias, mean, var, *, epsilon=1e-5) -> np.ndarray:
    """Inference batch normalisation (ONNX ``BatchNormalization``, training_mode 0).

    ``y = (x - mean) / sqrt(var + epsilon) * scale + bias``, with the four ``[C]`` parameter
    vectors applied along channel axis 1 of an input of any rank >= 2.
    """
    x = _f32(x)
    epsilon = F32(_default(epsilon, 1e-5))
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected rank >= 2, got shape {x.shape}")
    c = x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    params = []
    for name, p in (("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
        p = _f32(p)
        if p.shape != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), got {p.shape}")
        params.append(p.reshape(shape))
    scale, bias, mean, var = params
    return _out((x - mean) / np.sqrt(var + epsilon) * scale + bias)


def layer_norm(x, scale, bias=None, *, axis=-1, epsilon=1e-5) -> np.ndarray:
    """Layer normalisation (ONNX ``LayerNormalization``, opset 17, first output only).

    Each slice over the dimensions ``[axis, rank)`` is normalised to zero mean and unit
    (biased) variance, ``(x - mean) / sqrt(var + epsilon)``, then multiplied by ``scale``
    and shifted by ``bias`` (both of shape ``x.shape[axis:]``; no bias means zero).
    """
    x = _f32(x)
    epsilon = F32(_default(epsilon, 1e-5))
    axis = _axis("layer_norm", axis, x.ndim)
    norm_shape = x.shape[axis:]
    scale = _f32(scale)
    if scale.shape != norm_shape:
        raise ValueError(f"layer_norm: scale must have shape {norm_shape}, got {scale.shape}")
    axes = tuple(range(axis, x.ndim))
    mean = np.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    y = centred / np.sqrt(var + epsilon) * scale
    if bias is not None:
        bias = _f32(bias)
        if bias.shape != norm_shape:
            raise ValueError(f"layer_norm: bias must have shape {norm_shape}, got {bias.shape}")
        y = y + bias
    return _out(y)


def lrn(x, *, size, alpha=1e-4, beta=0.75, bias=1.0) -> np.ndarray:
    """Local response normalisation across channels (ONNX ``LRN``).

    ``y[n, c] = x[n, c] / (bias + alpha / size * sum(x[n, j]^2))^beta`` where ``j`` runs over
    ``[c - floor((size - 1) / 2), c + ceil((size - 1) / 2)]`` clipped to the valid channels.
    Works on any rank >= 2 (channels on axis 1). Even sizes follow the ONNX formula (the
    window extends one further after ``c`` than before); onnxruntime only implements odd sizes.
    """
    x = _f32(x)
    size = int(size)
    alpha, beta, bias = (F32(_default(alpha, 1e-4)), F32(_default(beta, 0.75)), F32(_default(bias, 1.0)))
    if size < 1:
        raise ValueError(f"lrn: size must be >= 1, got {size}")
    if x.ndim < 2:
        raise ValueError(f"lrn: expected rank >= 2, got shape {x.shape}")
    c = x.shape[1]
    # Channels past C - 1 on either side contribute nothing: clip the window to them (a
    # window of 2^31 channels must not allocate 2^31 of padding).
    before, after = min((size - 1) // 2, c - 1), min(size - 1 - (size - 1) // 2, c - 1)
    sq = np.pad(x * x, [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2))
    square_sum = np.zeros_like(x)
    for k in range(before + after + 1):
        square_sum += sq[:, k: k + c]
    return _out(x / (bias + alpha / F32(size) * square_sum) ** beta)


def reduce(x, *, kind, axes, keepdims=True) -> np.ndarray:
    """Reduction over ``axes`` (ONNX ``ReduceSum`` / ``ReduceMean`` / ``ReduceMax``, opset 18).

    ``kind`` is ``"sum"``, ``"mean"`` or ``"max"``; ``axes`` is a tuple of (possibly negative)
    axes, and the empty tuple reduces over all axes (ONNX ``noop_with_empty_axes = 0``).
    ``keepdims`` keeps reduced axes as size 1.
    """
    x = _f32(x)
    fns = {"sum": np.sum, "mean": np.mean, "max": np.max}
    if kind not in fns:
        raise ValueError(f"reduce: kind must be one of {sorted(fns)}, got {kind!r}")
    norm = tuple(_axis("reduce", int(a), x.ndim) for a in axes) if len(axes) else tuple(range(x.ndim))
    if len(set(norm)) != len(norm):
        raise ValueError(f"reduce: repeated axes in {tuple(axes)}")
    if kind == "max" and any(x.shape[a] == 0 for a in norm):
        raise ValueError("reduce: max over an empty axis")
    return _out(fns[kind](x, axis=norm, keepdims=bool(keepdims)))


# --------------------------------------------------------------------------- data movement


def concat(xs, *, axis) -> np.ndarray:
    """Concatenation of the arrays in ``xs`` along ``axis`` (ONNX ``Concat``; negative axis allowed)."""
    xs = [_data(a) for a in xs]
    if not xs:
        raise ValueError("concat: needs at least one input")
    rank = xs[0].ndim
    axis = _axis("concat", axis, rank)
    for a in xs:
        if a.ndim != rank or a.shape[:axis] + a.shape[axis + 1:] != xs[0].shape[:axis] + xs[0].shape[axis + 1:]:
            raise ValueError(f"concat: shapes {[a.shape for a in xs]} differ outside axis {axis}")
    return np.asarray(np.concatenate(xs, axis=axis))


def split(x, *, axis, sizes) -> list[np.ndarray]:
    """Splits ``x`` along ``axis`` into consecutive pieces of the given ``sizes`` (ONNX ``Split``).

    The sizes must be non-negative and add up to ``x.shape[axis]``; returns a list of arrays.
    """
    x = _data(x)
    axis = _axis("split", axis, x.ndim)
    sizes = [int(s) for s in sizes]
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ValueError(f"split: sizes {sizes} must be >= 0 and sum to {x.shape[axis]} (axis {axis})")
    bounds = np.cumsum(sizes)[:-1]
    return [np.asarray(p) for p in np.split(x, bounds, axis=axis)]


def reshape(x, shape) -> np.ndarray:
    """Row-major reshape to ``shape`` (ONNX ``Reshape``; one ``-1`` may be inferred, 0 is a literal 0)."""
    x = _data(x)
    shape = tuple(int(s) for s in shape)
    try:
        return np.asarray(np.reshape(x, shape))
    except ValueError:
        raise ValueError(f"reshape: cannot reshape {x.shape} into {shape}") from None


def flatten(x, *, axis=1) -> np.ndarray:
    """Flattens to 2-D (ONNX ``Flatten``): ``[prod(shape[:axis]), prod(shape[axis:])]``.

    ``axis`` is in ``[-rank, rank]``; ``axis = 0`` gives ``[1, size]``.
    """
    x = _data(x)
    if not -x.ndim <= axis <= x.ndim:
        raise ValueError(f"flatten: axis {axis} out of range for rank {x.ndim}")
    axis = axis % x.ndim if axis < 0 else axis
    outer = math.prod(x.shape[:axis])
    return np.asarray(x.reshape(outer, math.prod(x.shape[axis:])))


def transpose(x, *, perm) -> np.ndarray:
    """Permutes the axes (ONNX ``Transpose``): output axis ``i`` is input axis ``perm[i]``."""
    x = _data(x)
    perm = tuple(int(p) for p in perm)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: perm {perm} is not a permutation of range({x.ndim})")
    return np.asarray(np.transpose(x, perm))


def pad(x, *, pads, mode="constant", value=0.0) -> np.ndarray:
    """Pads every axis (ONNX ``Pad`` with all axes).

    ``pads`` has ``2 * rank`` non-negative ints in ONNX order ``[x1_begin, x2_begin, ...,
    x1_end, x2_end]``. ``mode``: ``"constant"`` fills with ``value``; ``"reflect"`` mirrors
    without repeating the edge element (NumPy ``reflect``; each pad must be smaller than the
    axis length); ``"edge"`` repeats the edge element.
    """
    x = _f32(x)
    rank = x.ndim
    pads = _ints("pad", "pads", pads, 2 * rank)
    if min(pads, default=0) < 0:
        raise ValueError(f"pad: pads must be >= 0, got {pads}")
    widths = [(pads[i], pads[i + rank]) for i in range(rank)]
    if mode == "constant":
        return _out(np.pad(x, widths, mode="constant", constant_values=F32(_default(value, 0.0))))
    if mode == "reflect":
        for d, (b, e) in enumerate(widths):
            if (b or e) and max(b, e) >= x.shape[d]:
                raise ValueError(f"pad: reflect pads {b, e} must be smaller than axis {d} of size {x.shape[d]}")
        return _out(np.pad(x, widths, mode="reflect"))
    if mode == "edge":
        for d, (b, e) in enumerate(widths):
            if (b or e) and x.shape[d] == 0:
                raise ValueError(f"pad: cannot edge-pad the empty axis {d}")
        return _out(np.pad(x, widths, mode="edge"))
    raise ValueError(f"pad: mode must be 'constant', 'reflect' or 'edge', got {mode!r}")


def gather(data, indices, *, axis=0) -> np.ndarray:
    """Gathers slices of ``data`` along ``axis`` (ONNX ``Gather``).

    ``indices`` is an integer array of any rank with values in ``[-s, s)`` for ``s =
    data.shape[axis]`` (negative values count from the end). The output shape is
    ``data.shape[:axis] + indices.shape + data.shape[axis + 1:]``.
    """
    data = _data(data)
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"gather: indices must be integers, got {indices.dtype}")
    axis = _axis("gather", axis, data.ndim)
    s = data.shape[axis]
    if indices.size and (indices.min() < -s or indices.max() >= s):
        raise ValueError(f"gather: indices must lie in [{-s}, {s}) for axis {axis}")
    return np.asarray(np.take(data, indices.astype(np.int64), axis=axis))


# --------------------------------------------------------------------------- recurrent


_DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


def _rnn_inputs(name, x, w, r, b, states, hidden_size, direction, gates):
    """Validates the common operands of LSTM/GRU; returns float32 arrays and (num_dir, batch)."""
    if direction not in _DIRECTIONS:
        raise ValueError(f"{name}: direction must be one of {sorted(_DIRECTIONS)}, got {direction!r}")
    x, w, r = _f32(x), _f32(w), _f32(r)
    h = int(hidden_size)
    nd = _DIRECTIONS[direction]
    if x.ndim != 3:
        raise ValueError(f"{name}: x must be [seq, batch, input], got shape {x.shape}")
    seq, batch, inp = x.shape
    if w.shape != (nd, gates * h, inp):
        raise ValueError(f"{name}: w must have shape {(nd, gates * h, inp)}, got {w.shape}")
    if r.shape != (nd, gates * h, h):
        raise ValueError(f"{name}: r must have shape {(nd, gates * h, h)}, got {r.shape}")
    b = np.zeros((nd, 2 * gates * h), F32) if b is None else _f32(b)
    if b.shape != (nd, 2 * gates * h):
        raise ValueError(f"{name}: b must have shape {(nd, 2 * gates * h)}, got {b.shape}")
    out_states = []
    for sname, s in states:
        s = np.zeros((nd, batch, h), F32) if s is None else _f32(s)
        if s.shape != (nd, batch, h):
            raise ValueError(f"{name}: {sname} must have shape {(nd, batch, h)}, got {s.shape}")
        out_states.append(s)
    return x, w, r, b, out_states, nd, h


def _time_order(direction: str, d: int, seq: int) -> range:
    """Time steps processed by direction index ``d`` (0 forward, or 1 the reverse of bidirectional)."""
    reverse = direction == "reverse" or (direction == "bidirectional" and d == 1)
    return range(seq - 1, -1, -1) if reverse else range(seq)


def lstm(x, w, r, b=None, initial_h=None, initial_c=None, *, hidden_size, direction="forward"):
    """Long short-term memory layer (ONNX ``LSTM``, layout 0, no peepholes, no clip).

    Shapes (``D`` = 2 if ``direction == "bidirectional"`` else 1, ``H = hidden_size``):
    ``x [seq, batch, input]``, ``w [D, 4H, input]``, ``r [D, 4H, H]``, ``b [D, 8H]`` (``Wb`` then
    ``Rb``; default zeros), ``initial_h`` / ``initial_c`` ``[D, batch, H]`` (default zeros).
    Gate blocks are stacked in ONNX order ``i, o, f, c``. Per time step ``t``::

        g = x_t @ W^T + h @ R^T + Wb + Rb           # then split into i, o, f, c
        i, o, f = sigmoid(i), sigmoid(o), sigmoid(f)
        c = f * c + i * tanh(c_hat)
        h = o * tanh(c)

    ``"reverse"`` runs from the last step to the first; ``"bidirectional"`` runs direction 0
    forward and direction 1 in reverse. Returns ``(y, y_h, y_c)``: ``y [seq, D, batch, H]``
    (each direction's ``h`` stored at the time index it was computed for) and the final
    ``h`` / ``c`` of each direction ``[D, batch, H]``.
    """
    x, w, r, b, (h0, c0), nd, hs = _rnn_inputs(
        "lstm", x, w, r, b, (("initial_h", initial_h), ("initial_c", initial_c)), hidden_size, direction, 4)
    seq, batch, _ = x.shape
    y = np.zeros((seq, nd, batch, hs), F32)
    y_h = np.zeros((nd, batch, hs), F32)
    y_c = np.zeros((nd, batch, hs), F32)
    for d in range(nd):
        h, c = h0[d], c0[d]
        xw = np.matmul(x, w[d].T) + b[d, :4 * hs] + b[d, 4 * hs:]  # [seq, batch, 4H], all steps at once
        for t in _time_order(direction, d, seq):
            g = xw[t] + h @ r[d].T
            i, o, f, cand = (g[:, k * hs:(k + 1) * hs] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(cand)
            h = sigmoid(o) * np.tanh(c)
            y[t, d] = h
        y_h[d], y_c[d] = h, c
    return _out(y), _out(y_h), _out(y_c)


def gru(x, w, r, b=None, initial_h=None, *, hidden_size, direction="forward", linear_before_reset=False):
    """Gated recurrent unit layer (ONNX ``GRU``, layout 0, default activations, no clip).

    Shapes as in :func:`lstm` with 3 gate blocks in ONNX order ``z, r, h``: ``w [D, 3H,
    input]``, ``r [D, 3H, H]``, ``b [D, 6H]`` (``Wb`` then ``Rb``; default zeros),
    ``initial_h [D, batch, H]``. Per time step::

        z = sigmoid(x_t @ Wz^T + h @ Rz^T + Wbz + Rbz)
        r = sigmoid(x_t @ Wr^T + h @ Rr^T + Wbr + Rbr)
        linear_before_reset = False: n = tanh(x_t @ Wh^T + (r * h) @ Rh^T + Rbh + Wbh)
        linear_before_reset = True:  n = tanh(x_t @ Wh^T + r * (h @ Rh^T + Rbh) + Wbh)
        h = (1 - z) * n + z * h

    Returns ``(y, y_h)`` with ``y [seq, D, batch, H]`` and ``y_h [D, batch, H]``.
    """
    x, w, r, b, (h0,), nd, hs = _rnn_inputs(
        "gru", x, w, r, b, (("initial_h", initial_h),), hidden_size, direction, 3)
    seq, batch, _ = x.shape
    y = np.zeros((seq, nd, batch, hs), F32)
    y_h = np.zeros((nd, batch, hs), F32)
    for d in range(nd):
        h = h0[d]
        wb, rb = b[d, :3 * hs], b[d, 3 * hs:]
        rz_r, rh = r[d, :2 * hs], r[d, 2 * hs:]
        xw = np.matmul(x, w[d].T) + wb  # [seq, batch, 3H]
        for t in _time_order(direction, d, seq):
            zr = sigmoid(xw[t, :, :2 * hs] + h @ rz_r.T + rb[:2 * hs])
            z, rg = zr[:, :hs], zr[:, hs:]
            if linear_before_reset:
                n = np.tanh(xw[t, :, 2 * hs:] + rg * (h @ rh.T + rb[2 * hs:]))
            else:
                n = np.tanh(xw[t, :, 2 * hs:] + (rg * h) @ rh.T + rb[2 * hs:])
            h = (F32(1) - z) * n + z * h
            y[t, d] = h
        y_h[d] = h
    return _out(y), _out(y_h)
