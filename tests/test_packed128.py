"""Property tests for the Packed128 bit layout and the CORDIC decoders."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import RangeError
from mathphys_nb.codec.packed128 import (FIELDS, R_MAX, THETA_MAX, Packed128, pack_hi, unpack_hi, cordic_reference_block,
                                   cordic_closed_form, cordic_amplitude)


def _field(name):
    _, w, signed = FIELDS[name]
    return st.integers(-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else st.integers(0, (1 << w) - 1)


fields = st.fixed_dictionaries({n: _field(n) for n in FIELDS})


@given(fields)
def test_pack_unpack_round_trip(f):
    assert unpack_hi(pack_hi(**f)) == f


@given(fields, st.sampled_from(sorted(FIELDS)))
def test_fields_are_independent(f, name):
    """Changing one field changes only its own bits."""
    lo, hi = (-(1 << (FIELDS[name][1] - 1)), (1 << (FIELDS[name][1] - 1)) - 1) if FIELDS[name][2] else (0, (1 << FIELDS[name][1]) - 1)
    g = dict(f, **{name: hi if f[name] != hi else lo})
    a, b = unpack_hi(pack_hi(**f)), unpack_hi(pack_hi(**g))
    assert {k for k in FIELDS if a[k] != b[k]} == ({name} if f[name] != g[name] else set())


@given(st.floats(0, 1), st.floats(0, 2 * math.pi))
def test_quantization_error_bounds(r, theta):
    d = Packed128.from_params(r, theta).decode()
    assert abs(d.r - r) <= 0.5 / R_MAX + 1e-15
    assert abs(d.theta - theta) <= 0.5 * 2 * math.pi / THETA_MAX + 1e-12
    assert d.r_fp32 == np.float32(r) and d.theta_fp32 == np.float32(theta)


@given(st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1))
def test_bytes_round_trip(hi, lo):
    p = Packed128(hi, lo)
    assert Packed128.from_bytes(p.to_bytes()) == p


@pytest.mark.parametrize('bad', [dict(r_q=1 << 20), dict(theta_q=-1), dict(log2_c=-5), dict(reserved=64)])
def test_out_of_range_is_an_error(bad):
    with pytest.raises(RangeError):
        pack_hi(**bad)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, (1 << 64) - 1), st.integers(2, 40), st.integers(2, 40))
def test_closed_form_matches_cordic(hi, rows, cols):
    ref = cordic_reference_block(hi, rows, cols).astype(np.float64)
    A = cordic_amplitude(((hi >> 44) & 0xFFFFF) / R_MAX)
    assert np.abs(ref - cordic_closed_form(hi, rows, cols)).max() <= 2e-5 * A + 1e-30


# --- vectorized pack/unpack, vectorized CORDIC loop, basis reading ---------------------------------------------
from mathphys_nb.core import ShapeError  # noqa: E402
from mathphys_nb.codec.packed128 import (pack_seeds, unpack_seeds, cordic_decode_block, decode_basis, basis_eval,  # noqa: E402
                                   BasisFunction)

arrays = st.integers(1, 20).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 1), min_size=n, max_size=n), st.lists(st.floats(0, 2 * math.pi), min_size=n, max_size=n),
    st.lists(_field('basis_id'), min_size=n, max_size=n), st.lists(_field('log2_c'), min_size=n, max_size=n),
    st.lists(_field('reserved'), min_size=n, max_size=n)))


@given(arrays)
def test_vectorized_pack_matches_scalar_and_round_trips(a):
    r, th, b, c, res = (np.array(x) for x in a)
    hi, lo = pack_seeds(r, th, basis_id=b, log2_c=c, reserved=res)
    assert hi.dtype == np.uint64 and lo.dtype == np.uint64
    u = unpack_seeds(hi, lo)
    np.testing.assert_array_equal(u['basis_id'], b); np.testing.assert_array_equal(u['log2_c'], c)
    np.testing.assert_array_equal(u['reserved'], res)
    assert np.all(np.abs(u['r'] - r) <= 0.5 / R_MAX + 1e-15)
    assert np.all(np.abs(u['theta'] - th) <= math.pi / THETA_MAX + 1e-12)
    np.testing.assert_array_equal(u['theta_fp32'], th.astype(np.float32))
    k = len(r) - 1
    p = Packed128.from_params(float(r[k]), float(th[k]), basis_id=int(b[k]), log2_c=int(c[k]), reserved=int(res[k]))
    assert (int(hi[k]), int(lo[k])) == (p.hi, p.lo)


@pytest.mark.parametrize('kw,msg', [(dict(r=[1.5]), 'r=1.5'), (dict(theta=[-0.1]), 'theta=-0.1'),
                                    (dict(basis_id=[16]), 'basis_id=16'), (dict(log2_c=[-5]), 'log2_c=-5')])
def test_vectorized_pack_refuses_out_of_range(kw, msg):
    args = dict(r=[0.5], theta=[0.0]); args.update(kw)
    with pytest.raises(RangeError, match=msg):
        pack_seeds(args.pop('r'), args.pop('theta'), **args)


def test_vectorized_types():
    with pytest.raises(TypeError, match='rot_code'):
        pack_seeds([0.5], [0.0], rot_code=[1.5])
    with pytest.raises(RangeError, match='negative'):
        unpack_seeds(np.array([-1], np.int64))
    with pytest.raises(TypeError, match='hi must be'):
        Packed128(1.0, 0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, (1 << 64) - 1), min_size=1, max_size=6), st.integers(2, 12), st.integers(2, 12))
def test_vectorized_cordic_is_bit_exact(seeds, rows, cols):
    blk = cordic_decode_block(np.array(seeds, dtype=np.uint64), rows, cols)
    for k, s in enumerate(seeds):
        np.testing.assert_array_equal(blk[k], cordic_reference_block(s, rows, cols))


def test_block_shape_errors():
    with pytest.raises(ShapeError):
        cordic_decode_block(0, 1, 5)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 11), st.floats(0, 1), st.floats(0, 2 * math.pi), _field('d_theta'), _field('d_r'),
       _field('rot_code'), _field('log2_c'), st.integers(2, 33))
def test_basis_reading_is_finite_and_normalized(b, r, th, dt, dr, rot, c, n):
    w = decode_basis(Packed128.from_params(r, th, basis_id=b, d_theta=dt, d_r=dr, rot_code=rot, log2_c=c), n, n)
    assert w.shape == (n, n) and np.isfinite(w).all()
    m = np.abs(w).max()
    assert m == 0 or abs(m - 1) < 1e-12


@pytest.mark.parametrize('kind', list(BasisFunction))
def test_basis_phase_fields_add_up(kind):
    """θ, rot_code and d_theta all enter as one phase ψ (documented redundancy), for every smooth angular factor."""
    if kind == BasisFunction.TanhSign:
        pytest.skip('sgn has zero derivative away from its jumps')
    a = decode_basis(Packed128.from_params(0.4, 0.0, basis_id=int(kind), rot_code=12, d_theta=1), 16, 16)
    b = decode_basis(Packed128.from_params(0.4, 2 * math.pi * (-12 / 16 + 0.25) % (2 * math.pi), basis_id=int(kind)), 16, 16)
    np.testing.assert_allclose(a, b, atol=1e-5)
