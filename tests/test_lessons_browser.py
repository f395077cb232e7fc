"""Every lesson opens in JupyterLab, runs, and shows working widgets in a real browser (Debian chromium + playwright).

One Lab server for all lessons. Per lesson: Run All, no cell error, widgets in the DOM, every WebGL canvas not
blank, a screenshot in build/lessons/. Then the widgets are acted on and must change the picture: the time
slider (while the kernel sleeps in a cell added for the purpose: scrubbing is browser-side), the concept map's run button, POINT (click → value and time series), DRAW (click to paint,
simulate), the equation box (a refusal is a sentence) and the compression explorer's student level.
Every page also: draws nothing while nothing changes (0 WebGL frames in 2 s), shows no time controls for a
single frame, no empty dropdown, and no widget cut off at the right edge at 1400 px and at 1000 px.
"""
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from mathphys_nb.runs.widgets import (browser, browser_missing, canvas_is_blank, canvases, cell_errors, changed_fraction,
                                      copy_lessons, dismiss_news, lab_server, open_and_run, shot, shutdown_kernels,
                                      wait_changed, HARMLESS, INSTRUMENT, idle_frames)

pytestmark = pytest.mark.browser
LESSONS = sorted(p.name for p in (ROOT / 'nbs' / 'lessons').glob('*.ipynb'))
ONLY = [x for x in os.environ.get('MATHPHYS_LESSONS', '').split(',') if x]    # e.g. "01,07" while working on two lessons
SHOTS = ROOT / 'build' / 'lessons'


def _need_browser():
    import os
    miss = browser_missing()
    if miss:
        msg = f"browser test needs {', '.join(miss)} (apt-get install chromium; pip install playwright)"
        if os.environ.get('CI'): pytest.fail(msg)
        pytest.skip(msg)


def _output(page, text: str, widget: bool = False):
    "The output area whose text contains `text` (with `widget`, the first such area that holds a canvas)."
    loc = page.locator('.jp-OutputArea-output').filter(has_text=text)
    return (loc.filter(has=page.locator('canvas')) if widget else loc).first


def _html_of(loc) -> str:
    return loc.inner_text()


def _wait_text(loc, needle: str, timeout: float = 30.0) -> str:
    t_end = time.time() + timeout
    while True:
        s = loc.inner_text()
        if needle in s or time.time() > t_end: return s
        time.sleep(0.25)


# --- actions per lesson: each returns a list of failure messages -------------------------------------------------

BUSY = "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Busy/.test(e.textContent))"
IDLE_NOW = "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle/.test(e.textContent))"


def _keep_kernel_busy(page, seconds: int):
    "Append a cell `time.sleep(seconds)` and run it: the kernel cannot answer widget messages meanwhile."
    page.locator('.jp-Cell').last.click(); page.keyboard.press('Escape'); page.keyboard.press('b')
    page.keyboard.press('Enter'); page.keyboard.type(f'import time; time.sleep({seconds})'); page.keyboard.press('Shift+Enter')
    page.wait_for_function(BUSY, timeout=15_000)


SINGLE_FRAME_PLAY = """() => [...document.querySelectorAll('.jp-OutputArea-output .widget-play')]
  .filter(p => p.offsetParent !== null)
  .filter(p => { const h = p.parentElement.querySelector('.noUi-handle'); return h && Number(h.getAttribute('aria-valuemax')) <= 0; }).length"""
EMPTY_DROPDOWNS = """() => [...document.querySelectorAll('.jp-OutputArea-output select')]
  .filter(s => s.offsetParent !== null && s.options.length === 0).map(s => (s.closest('.widget-dropdown') || s).innerText.trim() || '(no label)')"""
CLIPPED = """() => { const bad = [];
  for (const out of document.querySelectorAll('.jp-OutputArea-output')) {
    const r = out.getBoundingClientRect(); if (r.width === 0) continue;
    for (const e of out.querySelectorAll('.jupyter-widgets canvas, .jupyter-widgets img, .widget-button, .widget-toggle-button, .widget-slider, .widget-dropdown, .widget-text, .widget-play')) {
      const b = e.getBoundingClientRect();
      if (b.width > 0 && b.right > r.right + 2) bad.push(`${e.className || e.tagName} ends at ${Math.round(b.right)} px, its output at ${Math.round(r.right)} px`);
    }
  }
  return bad; }"""


def page_checks(page) -> list[str]:
    "The whole-page rules: no drawing while idle, no time controls for one frame, no empty dropdown, nothing clipped at 1400 and 1000 px."
    f = []
    idle = idle_frames(page, 2.0)
    if idle > 0: f.append(f'{idle:.1f} WebGL frames/s drawn while nothing changes (goal 0)')
    n = page.evaluate(SINGLE_FRAME_PLAY)
    if n: f.append(f'{n} single-frame viewer(s) show a Play button')
    empty = page.evaluate(EMPTY_DROPDOWNS)
    if empty: f.append(f'empty dropdown(s): {empty[:3]}')
    for width in (1400, 1000):
        page.set_viewport_size({'width': width, 'height': 1000}); time.sleep(1.0)
        bad = page.evaluate(CLIPPED)
        if bad: f.append(f'clipped at {width} px: {bad[:3]}')
    page.set_viewport_size({'width': 1400, 'height': 1000}); time.sleep(0.5)
    return f


def act_standing_waves(page):
    fails = []
    cs = canvases(page)
    before = shot(cs[0])
    handle = page.locator('.widget-slider .noUi-handle').first
    handle.scroll_into_view_if_needed()
    _keep_kernel_busy(page, 10)             # scrubbing must not need the kernel: frames are in the browser
    handle.click()
    for _ in range(10): handle.press('ArrowRight')
    after = wait_changed(cs[0], before, timeout=6)
    busy = page.evaluate(BUSY)
    if changed_fraction(before, after) < 0.01: fails.append('time slider: the solver canvas did not change while the kernel was busy')
    elif not busy: fails.append('time slider: the kernel went idle before the change was seen (cannot tell it was browser-side)')
    page.wait_for_function(IDLE_NOW, timeout=30_000)
    # POINT: click the centre of the probe's canvas → the value and a time series appear
    out = page.locator('.jp-OutputArea-output').filter(has=page.locator('canvas')).last
    probe = out.locator('canvas').first; probe.scroll_into_view_if_needed()
    box = probe.bounding_box()
    page.mouse.click(box['x'] + box['width'] * 0.5, box['y'] + box['height'] * 0.5)
    txt = _wait_text(out, 'at t =')
    if 'at t =' not in txt: fails.append(f'POINT: no value shown after a click (text: {txt[:200]!r})')
    elif out.locator('img').count() == 0: fails.append('POINT: no time-series picture after a click')
    return fails


def act_concept_map(page):
    "The explorer opens on its run: run reports, the time slider moves the picture, a parameter re-runs it."
    fails = []
    out = _output(page, 're-run when a slider')
    cv = out.locator('canvas:not(.mp-overlay)').first
    out.locator('button', has_text='run').first.click()
    status = _wait_text(out, 'frames in')
    if 'frames in' not in status: fails.append(f'concept map: run gave no status ({status[:200]!r})')
    before = shot(cv)
    frame = out.locator('.mp-time .noUi-handle').first
    frame.scroll_into_view_if_needed(); frame.click()
    for _ in range(40): frame.press('ArrowRight')                       # to the last frame
    after = wait_changed(cv, before)
    if changed_fraction(before, after) < 0.01: fails.append('concept map: the time slider did not change the viewer')
    sliders = out.locator('.widget-slider:not(.mp-time):not(.mp-speed)')
    track = sliders.first.locator('.noUi-target').first; track.scroll_into_view_if_needed()
    b = track.bounding_box(); page.mouse.click(b['x'] + 0.9 * b['width'], b['y'] + b['height'] / 2)   # a tap: released at once
    later = wait_changed(cv, after)
    if changed_fraction(after, later) < 0.01: fails.append('concept map: a parameter change did not re-run the viewer')
    return fails


def act_playground(page):
    fails = []
    out = _output(page, 'Or type a PDE')
    box = out.locator('.widget-text input').first
    box.fill('u_t = -0.1*u_xx'); box.press('Enter')
    txt = _wait_text(out, 'ill-posed')
    if 'ill-posed' not in txt or 'Traceback' in txt: fails.append(f'equation box: refusal not shown as a sentence ({txt[:300]!r})')
    cv = out.locator('canvas').first; before = shot(cv)
    box.fill('u_t + 0.5*u_x + 0.5*u_y = 0.002*laplace(u)'); box.press('Enter')
    after = wait_changed(cv, before)
    if changed_fraction(before, after) < 0.01: fails.append('equation box: the viewer did not change for a valid equation')
    # DRAW: click the pad a few times, then simulate
    pad_out = _output(page, 'pen (paint on move)')
    pad, result = pad_out.locator('canvas:not(.mp-overlay)').nth(0), pad_out.locator('canvas:not(.mp-overlay)').nth(1)
    p0, r0 = shot(pad), shot(result)
    pb = pad.bounding_box()
    for fx, fy in ((0.5, 0.5), (0.3, 0.35), (0.7, 0.6)):
        page.mouse.click(pb['x'] + pb['width'] * fx, pb['y'] + pb['height'] * fy); time.sleep(0.3)
    p1 = wait_changed(pad, p0)
    if changed_fraction(p0, p1) < 0.005: fails.append('DRAW: painting did not change the pad')
    pad_out.locator('button', has_text='simulate').first.click()
    txt = _wait_text(pad_out, 'frames to t')
    if 'frames to t' not in txt: fails.append(f'DRAW: simulate gave no status ({txt[-200:]!r})')
    r1 = wait_changed(result, r0)
    if changed_fraction(r0, r1) < 0.005: fails.append('DRAW: the result viewer did not change after simulate')
    return fails


def act_compression(page):
    fails = []
    out = _output(page, 'student level', widget=True)     # the explorer, not the printed level table
    recon = out.locator('canvas:not(.mp-overlay)').nth(1)
    before = shot(recon); m0 = out.locator('.widget-html').last.inner_text()
    out.locator('.widget-toggle-button', has_text='1').first.click()          # level 1: the most compressed view
    m1 = m0; t_end = time.time() + 20
    while m1 == m0 and time.time() < t_end: time.sleep(0.25); m1 = out.locator('.widget-html').last.inner_text()
    if m1 == m0: fails.append('compression: the numbers did not change with the student level')
    after = wait_changed(recon, before)
    if changed_fraction(before, after) < 0.005: fails.append('compression: the reconstruction did not change with the level')
    return fails


ACTIONS = {'01_standing_waves.ipynb': act_standing_waves, '02_differential_equations.ipynb': act_concept_map,
           '07_equation_playground.ipynb': act_playground, '08_compression_emulator.ipynb': act_compression}
NO_CANVAS_OK = {'10_forecaster.ipynb'}     # shows its 3D views only where the dispersion simulator is installed


def test_blank_detector():
    import numpy as np
    assert canvas_is_blank(np.full((50, 50, 3), 244.0))
    img = np.full((50, 50, 3), 244.0); img[10:40, 10:40] = [30, 120, 200]
    assert not canvas_is_blank(img) and changed_fraction(img, np.full((50, 50, 3), 244.0)) > 0.3


def test_every_lesson_in_lab(tmp_path):
    _need_browser()
    assert LESSONS and set(ACTIONS) <= set(LESSONS), (LESSONS, sorted(ACTIONS))
    SHOTS.mkdir(parents=True, exist_ok=True)
    root = copy_lessons(tmp_path)
    failures, timings = {}, {}
    with lab_server(root, tmp_path) as (url, token), browser(tmp_path) as ctx:
        ctx.add_init_script(INSTRUMENT)
        with pytest.raises(Exception): urllib.request.urlopen(f'{url}/api/contents', timeout=5)   # auth stays on
        for nb in [n for n in LESSONS if not ONLY or n.split('_')[0] in ONLY]:
            page = ctx.new_page(); errors = []
            page.on('pageerror', lambda e, errors=errors: errors.append(str(e)))
            f = []
            try:
                timings[nb] = round(open_and_run(page, url, token, f'lessons/{nb}'), 1)
                dismiss_news(page)
                f += cell_errors(page)
                if page.locator('.jupyter-widgets').count() == 0 and nb not in NO_CANVAS_OK: f.append('no widget in the DOM')
                cs = canvases(page)
                if not cs and nb not in NO_CANVAS_OK: f.append('no WebGL canvas')
                time.sleep(0.5)
                for i, c in enumerate(cs):
                    if canvas_is_blank(shot(c, 0.2)): f.append(f'canvas {i} is blank')
                if cs: cs[0].scroll_into_view_if_needed(); time.sleep(0.5)
                page.screenshot(path=str(SHOTS / nb.replace('.ipynb', '.png')))
                if nb in ACTIONS and not f: f += ACTIONS[nb](page)
                f += page_checks(page)
                bad = [e for e in errors if not any(h in e for h in HARMLESS)]
                if bad: f.append(f'page errors: {bad[:3]}')
            except Exception as e:
                f.append(f'{type(e).__name__}: {str(e)[:300]}')
                page.screenshot(path=str(SHOTS / nb.replace('.ipynb', '_failure.png')))
            finally:
                page.close(); shutdown_kernels(url, token)
            if f: failures[nb] = f
    (SHOTS / 'timings.json').write_text(json.dumps(timings, indent=1))
    print('seconds per lesson (open + run all):', timings)
    assert not failures, json.dumps(failures, indent=1)
