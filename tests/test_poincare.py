"""Property tests for PoincareMatrix (compress / decompress / train) and the tiled codec."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import RangeError, ShapeError, UnknownNameError
from mathphys_nb.codec.packed128 import Packed128, R_MAX, cordic_decode_block
from mathphys_nb.codec.poincare import (PoincareMatrix, TiledPoincare, compress_tiled, rmse, relative_rmse, smooth_field,
                                  amplitude_table)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.75, 1.0), st.floats(0, 2 * math.pi), st.integers(0, (1 << 20) - 1), st.integers(2, 40), st.integers(2, 40))
def test_compress_recovers_a_seed_made_matrix(r, theta, bits, rows, cols):
    hi = Packed128.from_params(r, theta).hi | bits
    target = PoincareMatrix(Packed128(hi, 0), rows, cols).decompress()
    fit = PoincareMatrix.compress(target)
    assert rmse(fit.decompress(), target) < 1e-4 * max(float(np.abs(target).max()), 1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.integers(4, 24))
def test_compress_beats_random_seeds(seed, n):
    """The least-squares seed is at least as good as any of 50 random seeds (same decoder)."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n)) * rng.uniform(0.01, 2)
    best = rmse(PoincareMatrix.compress(M).decompress(), M)
    hs = rng.integers(0, 2**63, 50).astype(np.uint64) | np.uint64(1 << 63)
    others = [rmse(b, M) for b in cordic_decode_block(hs, n, n)]
    assert best <= min(others) + 1e-7


def test_random_matrices_are_incompressible():
    """One seed holds 2 of rows*cols dimensions: relative RMSE ≈ sqrt(1 - 2/1024) ≈ 0.999 on 32x32 noise."""
    rng = np.random.default_rng(0)
    v = [relative_rmse(PoincareMatrix.compress(m := rng.standard_normal((32, 32))).decompress(), m) for _ in range(20)]
    assert abs(np.mean(v) - 1.0) < 3e-3


def test_amplitude_clipped_to_the_largest_seed():
    target = 5 * PoincareMatrix(Packed128.from_params(1.0, 0.3), 32, 32).decompress()
    fit = PoincareMatrix.compress(target)
    assert fit.seed.hi >> 44 == R_MAX
    np.testing.assert_allclose(fit.decompress(), target / 5, atol=1e-6)


def test_training_reports_the_quantized_error():
    target = PoincareMatrix(Packed128.from_params(0.97, 4.0), 32, 32).decompress() + 0.01 * smooth_field(32, 32, 8.0)
    start = PoincareMatrix(Packed128.from_params(0.9, 3.0), 32, 32)
    res = start.train_with_adam128(target, epochs=300, lr=0.01)
    assert res.rmse_quantized == rmse(res.matrix.decompress(), target)
    assert res.rmse_quantized < 0.2 * res.rmse_initial
    assert res.losses[-1] < res.losses[0]
    d = res.matrix.seed.decode()
    assert abs(d.r - d.r_fp32) <= 0.5 / R_MAX + 1e-7          # Seed0 is the quantized Seed1
    lsq = PoincareMatrix.compress(target)
    assert res.rmse_quantized <= rmse(lsq.decompress(), target) * 1.01 + 1e-7   # reaches the least-squares optimum


def test_training_from_the_optimum_does_not_get_worse():
    M = smooth_field(32, 32, 6.0, 4)
    fit = PoincareMatrix.compress(M)
    res = fit.train_with_adam128(M, epochs=100, lr=0.003)
    assert res.rmse_quantized <= rmse(fit.decompress(), M) * (1 + 1e-6)


def test_errors():
    pm = PoincareMatrix(Packed128(0, 0), 8, 8)
    with pytest.raises(UnknownNameError):
        pm.decompress('wavelet')
    with pytest.raises(ShapeError):
        PoincareMatrix.compress(np.zeros((1, 8)))
    with pytest.raises(ShapeError):
        pm.train_with_adam128(np.zeros((4, 4)))
    with pytest.raises(RangeError):
        pm.train_with_adam128(np.zeros((8, 8)), lr=-1.0)
    with pytest.raises(TypeError):
        PoincareMatrix(123, 8, 8)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 90), st.integers(2, 90), st.sampled_from([4, 8, 16, 32]))
def test_tiled_shapes_bytes_and_round_trip(rows, cols, block):
    M = np.random.default_rng(rows * 100 + cols).standard_normal((rows, cols))
    tp = compress_tiled(M, block)
    ty, tx = -(-rows // block), -(-cols // block)
    assert tp.hi.shape == (ty, tx) and tp.nbytes == 12 + 16 * ty * tx
    data = tp.to_bytes(); assert len(data) == tp.nbytes
    back = TiledPoincare.from_bytes(data)
    np.testing.assert_array_equal(back.decompress(), tp.decompress())
    assert tp.decompress().shape == (rows, cols)
    assert tp.compression_ratio == pytest.approx(4 * rows * cols / tp.nbytes)
    assert np.abs(tp.decompress('closed') - tp.decompress()).max() < 1e-5


def test_tiled_equals_per_block_compress():
    M = smooth_field(64, 96, 8.0, 2)
    tp = compress_tiled(M, 32, refine=True)
    for i in range(2):
        for j in range(3):
            blk = M[32 * i:32 * i + 32, 32 * j:32 * j + 32]
            np.testing.assert_allclose(tp.decompress()[32 * i:32 * i + 32, 32 * j:32 * j + 32],
                                       PoincareMatrix.compress(blk).decompress(), atol=1e-7)


def test_amplitude_table_is_monotone_and_matches_notes():
    tab = amplitude_table()
    assert np.all(np.diff(tab) >= 0)
    for r, a in ((0.5, 4.7e-6), (0.7, 0.0071), (0.9, 0.19), (1.0, 0.41)):   # values quoted in notes/rbe.md
        assert tab[round(r * R_MAX)] == pytest.approx(a, rel=0.02)


@pytest.mark.parametrize('shape', [(2, 2), (3, 7), (16, 16), (32, 32), (24, 40)])
def test_compress_is_never_worse_than_storing_zeros(shape):
    """‖Ŵ − W‖ ≤ ‖W‖ for random blocks (zero mean, shifted mean, tiny and huge scales): amplitude zero is a candidate.
    Relative RMSE (÷ std) is then at most that of zeros, √(1 + mean²/var), which exceeds 1 only through the mean."""
    for seed in range(12):
        rng = np.random.default_rng(seed)
        centred = rng.standard_normal(shape); centred -= centred.mean()
        for M in (rng.standard_normal(shape), rng.standard_normal(shape) + rng.normal(), centred,
                  1e-12 * rng.standard_normal(shape), 1e6 * rng.standard_normal(shape)):
            d = PoincareMatrix.compress(M).decompress()
            assert rmse(d, M) <= rmse(np.zeros_like(M), M), (shape, seed)
            assert relative_rmse(d, M) <= relative_rmse(np.zeros_like(M), M)
        assert relative_rmse(PoincareMatrix.compress(centred).decompress(), centred) <= 1 + 1e-12   # no mean: ≤ 1


def test_tiled_refined_is_never_worse_than_storing_zeros():
    M = np.random.default_rng(5).standard_normal((70, 45))
    tp = compress_tiled(M, block=16, refine=True); R = tp.decompress()
    for i in range(0, 70, 16):
        for j in range(0, 45, 16):
            assert rmse(R[i:i + 16, j:j + 16], M[i:i + 16, j:j + 16]) <= rmse(0, M[i:i + 16, j:j + 16])
