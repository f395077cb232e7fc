"""The CUDA source compiles with NVRTC (no GPU needed); the CPU twin equals the loop with glibc's float functions bit
for bit and matches the numpy reference; the fast path matches the exact closed form; the CuPy kernels match too
where a GPU exists."""
import numpy as np
import pytest

import mathphys_nb.codec.kernels as K
from mathphys_nb.core import gpu_available, MathPhysError, ShapeError, UnknownNameError
from mathphys_nb.codec.kernels import (compile_nvrtc, cuda_source, KernelCompileError, decode_blocks_cpu_twin,
                                 decode_blocks_fast, decode_blocks_gpu, decode_blocks, libm_reference_block,
                                       seed_amp_phase)
from mathphys_nb.codec.packed128 import cordic_reference_block, cordic_closed_form, cordic_amplitude, seed_coefficients, R_MAX


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


# --- the sources: each file compiles on its own, and a wheel carries them -----------------------------------------
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

from mathphys_nb.codec.kernels import CSRC_FILES, csrc, csrc_dir, nvrtc_options  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _nvcc():
    return shutil.which('nvcc') or next((str(p) for p in Path('/usr/local').glob('cuda*/bin/nvcc') if p.exists()), None)


def test_sources_found_in_the_checkout():
    assert csrc_dir() == ROOT / 'csrc'
    assert all(csrc(n).exists() for n in CSRC_FILES)


def test_kernels_source_is_the_file_as_it_is():
    """NVRTC compiles `cordic_decode.cu` unchanged: it includes its header, which comes through the include path."""
    assert cuda_source() == csrc('cordic_decode.cu').read_text()
    assert '#include "cordic_decode.cuh"' in cuda_source()
    assert any(o.startswith('--include-path=') for o in nvrtc_options())


@pytest.mark.skipif(_nvcc() is None, reason='nvcc (CUDA toolkit) not installed')
@pytest.mark.parametrize('name', [n for n in CSRC_FILES if n.endswith('.cu')])
def test_every_cu_compiles_alone_with_nvcc(name, tmp_path):
    r = subprocess.run([_nvcc(), '-ptx', str(csrc(name)), '-o', str(tmp_path / 'out.ptx')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '.entry cordic_decode_blocks(' in (tmp_path / 'out.ptx').read_text()


@pytest.mark.skipif(shutil.which('g++') is None, reason='g++ not installed')
def test_cpu_twin_compiles_alone_with_gxx():
    r = subprocess.run(['g++', '-fsyntax-only', '-fopenmp-simd', '-Wall', '-Werror', str(csrc('cordic_cpu.cpp'))], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_wheel_carries_the_sources(tmp_path):
    """Builds a wheel from a copy of the packaging files (so the checkout gets no build/ or egg-info) and lists it."""
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.py', 'settings.ini', 'pyproject.toml', 'README.md'):
        shutil.copy(ROOT / name, src / name)
    for d in ('mathphys_nb', 'csrc'):
        shutil.copytree(ROOT / d, src / d, ignore=shutil.ignore_patterns('__pycache__'))
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(src), '--no-deps', '--no-build-isolation', '-q',
                        '-w', str(tmp_path / 'dist')], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = (tmp_path / 'dist').glob('*.whl')
    names = set(zipfile.ZipFile(whl).namelist())
    assert {f'mathphys_nb/csrc/{n}' for n in CSRC_FILES} <= names, sorted(n for n in names if 'csrc' in n)


_GRID_TEST = r'''
#include "cordic_decode.cuh"
#include <cstdio>
#include <vector>
// Emulate a grid of T threads running the kernels' loop: every element written once, with its own (block, i, j).
int main() {
    const int cases[][4] = {{3, 7, 5, 1}, {3, 7, 5, 4}, {5, 32, 32, 256}, {2, 2, 2, 3}, {4, 9, 13, 1000}, {6, 5, 3, 17},
                            {1, 2, 3, 35}, {7, 4, 6, 100000}};
    for (auto& c : cases) {
        const int n = c[0], rows = c[1], cols = c[2], T = c[3];
        const long long total = (long long)n * rows * cols;
        std::vector<float> out(total, -1.0f); std::vector<int> count(total, 0);
        for (int t = 0; t < T; ++t)
            mp_decode_strided(out.data(), n, rows, cols, t, T, [&](long long b, int i, int j) {
                const long long k = (b * rows + i) * cols + j;
                if (i < 0 || i >= rows || j < 0 || j >= cols || k < 0 || k >= total) return -2.0f;
                ++count[k]; return (float)k; });
        for (long long k = 0; k < total; ++k)
            if (out[k] != (float)k || count[k] != 1) { std::printf("n=%d rows=%d cols=%d T=%d: element %lld\n", n, rows, cols, T, k); return 1; }
    }
    return 0;
}
'''


@pytest.mark.skipif(shutil.which('g++') is None, reason='g++ not installed')
def test_grid_stride_loop_covers_every_element_once(tmp_path):
    """The kernels' loop (`mp_decode_strided`), run on the CPU as a grid of T threads with stride T."""
    (tmp_path / 'grid.cpp').write_text(_GRID_TEST)
    r = subprocess.run(['g++', '-std=c++17', '-I', str(csrc_dir()), str(tmp_path / 'grid.cpp'), '-o', str(tmp_path / 'grid')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(tmp_path / 'grid')], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
