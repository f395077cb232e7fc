"""Property tests for the Packed128 bit layout and the CORDIC decoders."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import RangeError
from mathphys_nb.packed128 import (FIELDS, R_MAX, THETA_MAX, Packed128, pack_hi, unpack_hi, cordic_reference_block,
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
