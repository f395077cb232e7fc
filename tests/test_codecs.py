"""Property tests for the weight codecs: shapes, exact byte counts, error bounds, rate–distortion order."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import RangeError, ShapeError, MathPhysError
from mathphys_nb.codec.codecs import (DCTCodec, SVDCodec, GroupQuantCodec, SeedCodec, BasisExpansionCodec, CordicSeedCodec,
                                      Encoded, pack_bits, unpack_bits, fp16_up, fp16_down, lfsr_bits, seed_basis)
from mathphys_nb.codec.poincare import relative_rmse

shapes = st.tuples(st.integers(1, 70), st.integers(1, 70))


def _mat(shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


def _blocks(shape, b):
    return math.ceil(shape[0] / b) * math.ceil(shape[1] / b)


def _codecs_with_bytes(shape):
    """(codec, exact expected bytes) from each codec's stated formula."""
    m, n = shape; N = m * n
    out = [(DCTCodec(8, 5), 2 * 5 * _blocks(shape, 8)),
           (BasisExpansionCodec(8, 7), 2 * 7 * _blocks(shape, 8)),
           (GroupQuantCodec(8, 16, True), 16 * math.ceil(N / 16) + 2 * math.ceil(N / 16)),
           (GroupQuantCodec(4, 16, False), 8 * math.ceil(N / 16) + 4 * math.ceil(N / 16)),
           (GroupQuantCodec(2, 32, True), math.ceil(32 * math.ceil(N / 32) / 4) + 2 * math.ceil(N / 32)),
           (SeedCodec(16, 1, n_search=64), 4 * math.ceil(N / 16)),
           (SeedCodec(8, 2, coef_bits=4, n_search=64), math.ceil(N / 8) * (2 + 2) + math.ceil(2 * math.ceil(N / 8) / 2))]
    if min(shape) >= 1: out.append((SVDCodec(1), 2 * (m + n)))
    out.append((CordicSeedCodec(8), 16 * _blocks(shape, 8)))
    return out


@settings(max_examples=15, deadline=None)
@given(shapes, st.integers(0, 2**16))
def test_roundtrip_shape_and_exact_bytes(shape, seed):
    w = _mat(shape, seed)
    for codec, nbytes in _codecs_with_bytes(shape):
        if isinstance(codec, CordicSeedCodec) and min(shape) < 2: continue
        w_hat, enc = codec.roundtrip(w)
        assert w_hat.shape == shape and w_hat.dtype == np.float32, codec
        assert np.isfinite(w_hat).all(), codec
        assert enc.nbytes == codec.nbytes(enc) == nbytes, (codec, enc.nbytes, nbytes)
        assert codec.bits_per_weight(enc) == pytest.approx(8 * nbytes / (shape[0] * shape[1]))


@settings(max_examples=25, deadline=None)
@given(shapes, st.integers(0, 2**16), st.floats(1e-4, 1e3), st.booleans(), st.sampled_from([2, 4, 8]),
       st.sampled_from([1, 7, 64]))
def test_quantization_error_within_half_scale(shape, seed, scale, symmetric, bits, group):
    w = _mat(shape, seed, scale)
    c = GroupQuantCodec(bits, group, symmetric); w_hat, enc = c.roundtrip(w)
    bound = c.error_bound(enc)
    assert (np.abs(w - w_hat) <= bound * (1 + 1e-6) + 1e-6 * np.abs(w)).all()


def test_int8_relative_error_small_and_int_bits_order():
    w = _mat((64, 64), 3)
    errs = [relative_rmse(GroupQuantCodec(b, 64).roundtrip(w)[0], w) for b in (2, 4, 8)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.01


@pytest.mark.parametrize('make', [lambda k: DCTCodec(16, k), lambda k: SVDCodec(k), lambda k: BasisExpansionCodec(16, min(k, 19))])
def test_error_decreases_with_budget(make):
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    w = np.sin(3 * xx + 2 * yy) + 0.3 * _mat((64, 64), 1)
    errs = [relative_rmse(make(k).roundtrip(w)[0], w) for k in (1, 2, 4, 8, 16)]
    assert all(a >= b - 1e-9 for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < errs[0]


def test_seed_error_decreases_with_budget():
    w = _mat((64, 64), 2)
    errs = [relative_rmse(SeedCodec(c, 1, n_search=1024).roundtrip(w)[0], w) for c in (256, 64, 16)]
    assert errs[0] > errs[1] > errs[2], errs
    # more seeds searched -> a better (never worse) fit
    e_few, e_many = (relative_rmse(SeedCodec(64, 1, n_search=n).roundtrip(w)[0], w) for n in (16, 4096))
    assert e_many < e_few


def test_lfsr_is_deterministic_and_distinct():
    a = lfsr_bits(np.arange(1, 200), 64)
    assert (a == lfsr_bits(np.arange(1, 200), 64)).all()
    assert len({r.tobytes() for r in a}) == 199
    U = seed_basis([5], 16, 2)
    assert np.allclose(np.abs(U), 0.25)


@given(st.lists(st.integers(0, 15), min_size=0, max_size=50))
def test_pack_unpack_inverse(vals):
    u = np.array(vals, np.uint8)
    for b in (4, 8):
        assert (unpack_bits(pack_bits(u, b), b, len(u)) == u).all()
    assert (unpack_bits(pack_bits(u % 4, 2), 2, len(u)) == u % 4).all()
    assert pack_bits(u, 4).nbytes == math.ceil(len(u) / 2)


@given(st.floats(0, 60000))
def test_fp16_rounding_directions(x):
    assert float(fp16_up(x)) >= x and float(fp16_down(x)) <= x


def test_errors():
    with pytest.raises(ShapeError, match='must be 2-D'): DCTCodec().encode(np.zeros(5))
    with pytest.raises(RangeError, match='exceeds min'): SVDCodec(5).encode(np.zeros((3, 4)))
    with pytest.raises(MathPhysError, match='cannot decode'): DCTCodec().decode(Encoded('svd', (2, 2), {}))
    with pytest.raises(RangeError, match='n_search'): SeedCodec(n_search=0)
    with pytest.raises(RangeError, match='does not fit in fp16'): GroupQuantCodec(8, 4).encode(np.full((2, 2), 1e7))
