"""The CUDA source compiles with NVRTC (no GPU needed); the CPU twin and the fast path match the numpy reference;
the CuPy kernel matches too where a GPU exists."""
import numpy as np
import pytest

from mathphys_nb.core import gpu_available
from mathphys_nb.kernels import (compile_nvrtc, cuda_source, KernelCompileError, decode_blocks_cpu_twin,
                                 decode_blocks_fast, decode_blocks_gpu)
from mathphys_nb.packed128 import cordic_reference_block, cordic_amplitude, R_MAX


def _seeds(n=32, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    s[: n // 2] |= np.uint64(0xFFF00 << 44)              # half with r close to 1 (large amplitudes)
    return s


def _rel_err(got, seeds, rows, cols):
    ref = np.stack([cordic_reference_block(int(s), rows, cols) for s in seeds]).astype(np.float64)
    amp = cordic_amplitude(((seeds >> np.uint64(44)) & np.uint64(0xFFFFF)).astype(np.float64) / R_MAX)[:, None, None]
    return float((np.abs(np.asarray(got, dtype=np.float64) - ref) / np.maximum(amp, 1e-30)).max())


@pytest.mark.parametrize('arch', ['compute_75', 'compute_90'])
def test_cuda_source_compiles_with_nvrtc(arch):
    ptx = compile_nvrtc(arch=arch)
    assert '.entry cordic_decode_blocks' in ptx


def test_compile_error_is_reported_with_log():
    with pytest.raises(KernelCompileError, match='not_a_function'):
        compile_nvrtc(cuda_source() + '\n__global__ void k(){ not_a_function(); }')


@pytest.mark.parametrize('rows,cols', [(32, 32), (7, 13)])
def test_cpu_twin_matches_reference(rows, cols):
    s = _seeds()
    assert _rel_err(decode_blocks_cpu_twin(s, rows, cols), s, rows, cols) < 1e-5


def test_fast_path_matches_reference():
    s = _seeds(seed=1)
    assert _rel_err(decode_blocks_fast(s, 32, 32), s, 32, 32) < 5e-5


@pytest.mark.skipif(not gpu_available(), reason='needs CuPy and a CUDA device')
def test_gpu_kernel_matches_reference():
    s = _seeds(256, seed=2)
    assert _rel_err(decode_blocks_gpu(s, 32, 32).get(), s, 32, 32) < 1e-5
