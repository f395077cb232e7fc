"""Latency of the field viewer in a real browser (JupyterLab + headless Debian chromium, WebGL via SwiftShader).

Measured, at 64² and 128²:
- scrub: time-slider key press → the first WebGL draw whose pixels differ (frames held in the browser, jslink);
- param: parameter-slider key press → the kernel re-simulates (heat equation) → new buffers → first changed draw;
- playback: distinct pictures drawn per second while the Play widget runs at its fastest interval.

How "drawn" is detected: `drawElements`/`drawArrays` are wrapped in the page; while a measurement is armed, each
draw is followed by `readPixels` of a central block and a checksum; the first draw whose checksum differs from the
one before the key press stops the clock (timestamps are `performance.now()` inside the page, from the keydown
event). One viewer per notebook, so no other scene draws meanwhile.

Rows use the running layer's benchmark format (case, value, unit, baseline, ratio, note). Usage:
    python bench/browser_latency.py [--quick] [--out bench/browser_latency.json]
`run(quick)` returns the rows (for a `@benchmark` wrapper). Needs chromium + playwright (see tests/labdriver.py).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))
from labdriver import ROOT, browser, browser_missing, lab_server, open_and_run, shutdown_kernels, dismiss_news  # noqa: E402

INSTRUMENT = r"""
(() => {
  window.__m = {armed: false, base: null, t0: 0, hits: [], sums: []};
  const probe = (gl) => {
    const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, s = 48;
    const px = new Uint8Array(s * s * 4);
    gl.readPixels(Math.max(0, (w - s) >> 1), Math.max(0, (h - s) >> 1), s, s, gl.RGBA, gl.UNSIGNED_BYTE, px);
    let a = 0; for (let i = 0; i < px.length; i += 3) a = (a * 31 + px[i]) >>> 0; return a;
  };
  for (const C of [WebGLRenderingContext, window.WebGL2RenderingContext].filter(Boolean)) {
    for (const name of ['drawElements', 'drawArrays']) {
      const orig = C.prototype[name];
      C.prototype[name] = function (...args) {
        const r = orig.apply(this, args);
        const m = window.__m;
        if (m.watch) {
          const s = probe(this);
          if (m.base === null) m.base = s;
          else if (m.armed && s !== m.base) { m.hits.push(performance.now() - m.t0); m.armed = false; m.base = s; }
          if (m.count) m.sums.push([performance.now(), s]);
        }
        return r;
      };
    }
  }
  document.addEventListener('keydown', () => { const m = window.__m; if (m.watch) { m.t0 = performance.now(); m.armed = true; } }, true);
})();
"""


def _nb(path: Path, cells: list[str]):
    import nbformat as nbf
    nb = nbf.v4.new_notebook(); nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3 (ipykernel)', 'language': 'python'}
    nb.cells = [nbf.v4.new_code_cell(c) for c in cells]
    nbf.write(nb, path)


def _notebooks(root: Path, sizes, n_frames: int):
    for n in sizes:
        _nb(root / f'scrub{n}.ipynb', [
            'import numpy as np\nfrom mathphys_nb.simulation import run_simulation\nfrom mathphys_nb.widgets.viewer import FieldViewer',
            f"res = run_simulation('wave_decomposition', n={n}, t_end=2.0, n_frames={n_frames}, width=0.08)\n"
            "v = FieldViewer(res.fields['u'], res.t, cmap='RdBu_r', width=520, height=380, interval=10)\nv"])
        _nb(root / f'param{n}.ipynb', [
            'import ipywidgets as w\nfrom mathphys_nb.simulation import run_simulation\nfrom mathphys_nb.widgets.viewer import FieldViewer',
            f"run = lambda a: run_simulation('heat_equation', n={n}, alpha=a, t_end=0.05, n_frames=6, init='random', seed=0).fields['u']\n"
            "v = FieldViewer(run(0.05), vmin=-1, vmax=1, width=520, height=380); v.slider.value = 5\n"
            "alpha = w.FloatSlider(value=0.05, min=0.005, max=0.1, step=0.005, description='alpha')\n"
            "alpha.observe(lambda c: v.set_frames(run(c['new'])), names='value')\n"
            "display(alpha); v"])


def _measure_keys(page, handle_sel: str, presses: int, gap: float, key: str = 'ArrowRight', back_every: int = 0) -> list[float]:
    "Press `key` on a slider handle `presses` times; latency of each press to the first changed draw (ms)."
    h = page.locator(handle_sel).first; h.scroll_into_view_if_needed(); h.click(); time.sleep(0.5)
    page.evaluate('() => { const m = window.__m; m.watch = true; m.base = null; m.hits = []; }')
    time.sleep(0.3)
    for i in range(presses):
        k = 'ArrowLeft' if back_every and (i // back_every) % 2 else key
        h.press(k); time.sleep(gap)
    hits = page.evaluate('() => { const m = window.__m; m.watch = false; return m.hits; }')
    return [float(x) for x in hits]


def _fps(page, seconds: float) -> float:
    page.evaluate('() => { const m = window.__m; m.watch = true; m.count = true; m.base = null; m.sums = []; }')
    page.locator('.widget-play button').first.click()
    time.sleep(seconds)
    sums = page.evaluate('() => { const m = window.__m; m.watch = false; m.count = false; return m.sums; }')
    page.locator('.widget-play button').nth(1).click()
    if len(sums) < 2: return 0.0
    t = np.array([s[0] for s in sums]); v = [s[1] for s in sums]
    changes = sum(1 for a, b in zip(v, v[1:]) if a != b)
    return float(changes / max((t[-1] - t[0]) / 1000, 1e-9))


def _row(case, vals, unit, note):
    return {'case': case, 'value': round(float(vals), 2), 'unit': unit, 'baseline': None, 'ratio': None, 'note': note}


def run(quick: bool = True, sizes=(64, 128)) -> list[dict]:
    "Rows: scrub p50/p95, param p50/p95, playback fps, per size; machine noted in each row's note."
    if browser_missing(): raise RuntimeError(f'needs {browser_missing()}')
    presses = 12 if quick else 40
    import os
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    machine = (f'{platform.node()}, {os.cpu_count()} cores, load {load:.1f} at start, '
               f'chromium headless + SwiftShader (CPU WebGL)')
    rows = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); root = work / 'nbs'; root.mkdir()
        _notebooks(root, sizes, 41)
        with lab_server(root, work) as (url, token), browser(work, 1300, 1000) as ctx:
            ctx.add_init_script(INSTRUMENT)
            for n in sizes:
                page = ctx.new_page()
                try:
                    open_and_run(page, url, token, f'scrub{n}.ipynb'); dismiss_news(page)
                    page.wait_for_selector('.jp-OutputArea-output canvas'); time.sleep(2)
                    lat = _measure_keys(page, '.widget-slider .noUi-handle', presses, 0.25, back_every=0)
                    if lat:
                        rows.append(_row(f'scrub {n}x{n}: key → changed frame drawn, p50', np.percentile(lat, 50), 'ms',
                                         f'{len(lat)}/{presses} presses seen; frames in the browser (jslink); {machine}'))
                        rows.append(_row(f'scrub {n}x{n}: key → changed frame drawn, p95', np.percentile(lat, 95), 'ms',
                                         f'goal ≤ {16 if n <= 64 else 50} ms'))
                    rows.append(_row(f'playback {n}x{n}: distinct frames drawn per second', _fps(page, 3 if quick else 6), 'fps',
                                     'Play widget at 10 ms interval, 41 frames'))
                finally:
                    page.close(); shutdown_kernels(url, token)
                page = ctx.new_page()
                try:
                    open_and_run(page, url, token, f'param{n}.ipynb'); dismiss_news(page)
                    page.wait_for_selector('.jp-OutputArea-output canvas'); time.sleep(2)
                    lat = _measure_keys(page, '.widget-slider .noUi-handle', max(6, presses // 2), 1.5 if n > 64 else 1.0,
                                        back_every=3)
                    if lat:
                        rows.append(_row(f'param {n}x{n}: key → re-simulated frame drawn, p50', np.percentile(lat, 50), 'ms',
                                         f'{len(lat)} presses seen; kernel runs heat_equation (6 frames) and sends buffers'))
                        rows.append(_row(f'param {n}x{n}: key → re-simulated frame drawn, p95', np.percentile(lat, 95), 'ms', ''))
                finally:
                    page.close(); shutdown_kernels(url, token)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='bench/browser_latency.py', description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true'); ap.add_argument('--out', default=str(ROOT / 'bench' / 'browser_latency.json'))
    a = ap.parse_args(argv)
    t0 = time.time(); rows = run(a.quick)
    out = {'date': time.strftime('%Y-%m-%dT%H:%M:%S'), 'host': platform.node(), 'python': platform.python_version(),
           'seconds': round(time.time() - t0, 1), 'rows': rows}
    Path(a.out).write_text(json.dumps(out, indent=1))
    print('| case | value | unit | note |\n|---|---|---|---|')
    for r in rows: print(f"| {r['case']} | {r['value']} | {r['unit']} | {r['note']} |")
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
