"""The CUDA source compiles with NVRTC (no GPU needed); the CPU twin equals the loop with glibc's float functions bit
for bit and matches the numpy reference; the fast path matches the exact closed form; the CuPy kernels match too
where a GPU exists."""
import numpy as np
import pytest

import mathphys_nb.codec.kernels as K
from mathphys_nb.core import gpu_available, MathPhysError, ShapeError, UnknownNameError
from mathphys_nb.codec.kernels import (compile_nvrtc, cuda_source, KernelCompileError, decode_blocks_cpu_twin,
                                 decode_blocks_fast, decode_blocks_gpu, decode_blocks, libm_reference_block,
                                 seed_amp_phase, seed_coefficients)
from mathphys_nb.codec.packed128 import cordic_reference_block, cordic_closed_form, cordic_amplitude, R_MAX


def _seeds(n=32, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    s[: n // 2] |= np.uint64(0xFFF00 << 44)              # half with r close to 1 (large amplitudes)
    s[n // 2:: 2] |= np.uint64(1 << 63)                  # and some with the top bit set
    return s


def _amp(seeds):
    return cordic_amplitude(((seeds >> np.uint64(44)) & np.uint64(0xFFFFF)).astype(np.float64) / R_MAX)[:, None, None]


def _rel_err(got, want, seeds):
    return float((np.abs(np.asarray(got, np.float64) - want) / np.maximum(_amp(seeds), 1e-30)).max())


def _ref(seeds, rows, cols):
    return np.stack([cordic_reference_block(int(s), rows, cols) for s in seeds]).astype(np.float64)


@pytest.mark.parametrize('arch', ['compute_75', 'compute_90'])
def test_cuda_source_compiles_with_nvrtc(arch):
    ptx = compile_nvrtc(arch=arch)
    assert '.entry cordic_decode_blocks(' in ptx and '.entry cordic_decode_blocks_closed(' in ptx


def test_compile_error_is_reported_with_log():
    with pytest.raises(KernelCompileError, match=r'not_a_function') as e:
        compile_nvrtc(cuda_source() + '\n__global__ void k(){ not_a_function(); }')
    assert 'cordic_decode.cu(' in str(e.value)            # the log names file(line)


def test_missing_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(K.shutil, 'which', lambda name: None)
    with pytest.raises(MathPhysError, match='g\\+\\+'):
        K._build_twin()


@pytest.mark.parametrize('rows,cols', [(32, 32), (7, 13)])
def test_cpu_twin_is_the_loop_with_glibc_functions_bit_for_bit(rows, cols):
    s = _seeds(6)
    want = np.stack([libm_reference_block(int(x), rows, cols) for x in s])
    np.testing.assert_array_equal(decode_blocks_cpu_twin(s, rows, cols), want)


@pytest.mark.parametrize('rows,cols', [(32, 32), (7, 13)])
def test_cpu_twin_matches_numpy_reference(rows, cols):
    s = _seeds()
    assert _rel_err(decode_blocks_cpu_twin(s, rows, cols), _ref(s, rows, cols), s) < 2e-5


def test_fast_path_matches_reference_and_exact_closed_form():
    s = _seeds(seed=1)
    assert _rel_err(decode_blocks_fast(s, 32, 32), _ref(s, 32, 32), s) < 1.5e-5
    exact = np.stack([cordic_closed_form(int(x), 32, 32) for x in s])
    assert _rel_err(decode_blocks_fast(s, 32, 32), exact, s) < 5e-7
    assert _rel_err(decode_blocks_cpu_twin(s, 32, 32, 'closed'), exact, s) < 3e-6


def test_seed_scalars_are_consistent():
    s = _seeds(64, seed=3)
    ap, ab = seed_amp_phase(s).astype(np.float64), seed_coefficients(s).astype(np.float64)
    np.testing.assert_allclose(ab[:, 0], ap[:, 0] * np.cos(ap[:, 1]), rtol=0, atol=3e-7 * ap[:, 0].max())
    np.testing.assert_allclose(ab[:, 1], -ap[:, 0] * np.sin(ap[:, 1]), rtol=0, atol=3e-7 * ap[:, 0].max())
    assert ((ap[:, 1] >= 0) & (ap[:, 1] <= 2 * np.pi + 1e-6)).all()


def test_bad_input_is_refused():
    with pytest.raises(ShapeError, match='rows, cols >= 2'): decode_blocks_cpu_twin(_seeds(2), 1, 8)
    with pytest.raises(ShapeError, match='1-D'): decode_blocks_fast(np.zeros((2, 2), np.uint64), 8, 8)
    with pytest.raises(UnknownNameError): decode_blocks(_seeds(2), 8, 8, method='cordic')


@pytest.mark.skipif(not gpu_available(), reason='needs CuPy and a CUDA device')
@pytest.mark.parametrize('method,tol', [('loop', 2e-5), ('closed', 1.5e-5)])
def test_gpu_kernels_match_reference(method, tol):
    s = _seeds(256, seed=2)
    assert _rel_err(decode_blocks_gpu(s, 32, 32, method).get(), _ref(s, 32, 32), s) < tol
    assert decode_blocks(s, 32, 32, device='auto').__class__.__module__.startswith('cupy')
