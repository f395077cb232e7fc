"""Write bench/PEERS.md from a `mathphys bench --only stencil_peers euler_peers data_dask --out DIR` run: python tools/write_peers.py DIR bench/PEERS.md"""
import json, sys
from pathlib import Path
from mathphys_nb.runs.bench import _md_table
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
res = json.loads((src / 'results.json').read_text())
m = res['machine']
head = ['# Against the peer libraries (issue 12)', '',
        'Written from one run of `mathphys bench --only stencil_peers euler_peers data_dask` (see `nbs/92_runs_physics.ipynb`, '
        '`nbs/91_runs_well.ipynb`). Machine: ' + ', '.join(f'{k} {v}' for k, v in m.items()) + '.', '',
        '`ratio` = our time / the peer\'s time (below 1: ours is faster), medians of runs taking turns with the peer in the same process. '
        'The machine was shared with other jobs (model training, tests) during the run, so absolute rates are noisy; '
        'the ratios are what the interleaving protects.', '']
dst.write_text('\n'.join(head) + _md_table(res['rows']) + '\n')
print(dst.read_text())
