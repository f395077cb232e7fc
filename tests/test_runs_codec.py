"""The codec area's running layer: the decode benchmark's parity rows, the GPU rows' fallback, the claim timings."""
import math

import numpy as np

from mathphys_nb.codec.kernels import decode_blocks_cpu_twin
from mathphys_nb.core import gpu_available
from mathphys_nb.runs.codec import bench_decode, decode_parity, measure_claim_timings


def test_decode_parity_detects_a_wrong_block():
    s = np.random.default_rng(3).integers(0, 2**63, 4).astype(np.uint64) | np.uint64(0xFFF00 << 44)
    good = decode_blocks_cpu_twin(s, 16, 16)
    assert decode_parity(good, s)['max_diff_over_A'] < 2e-5
    bad = good.copy(); bad[2, 5, 7] = -bad[2, 5, 7] + 0.05
    assert decode_parity(bad, s)['max_diff_over_A'] > 0.05


def test_bench_decode_reports_parity_and_names_the_gpu_or_its_absence():
    rows = bench_decode(quick=True)
    twin = next(r for r in rows if r['case'].startswith('C++ twin (loop) vs numpy reference'))
    assert twin['unit'] == 'max |diff| / A' and twin['value'] < 2e-5, twin
    gpu = [r for r in rows if 'GPU' in r['case']]
    if gpu_available():
        assert len(gpu) == 4 and all('driver' in r['case'] for r in gpu), gpu
    else:
        assert len(gpu) == 1 and 'not run' in gpu[0]['note'], gpu


def test_claim_timings_measure_every_claim():
    t = measure_claim_timings(quick=True)
    assert set(t) == {'decode_fast', 'decode_fast_single', 'decode_loop', 'compress', 'train'}
    assert all(math.isfinite(v) and v > 0 for v in t.values()), t
    assert t['decode_fast'] < t['decode_loop']          # batched closed form beats the literal loop per block
