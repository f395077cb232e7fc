"""The field viewer, the concept explorer and their docs stills, without a browser.

What is sent to the browser decodes to the frames; one frame gets no time controls; a lesson's explorer opens on
its own run with its sliders (log sliders for log integers) and no empty menu; docs stills keep each viewer's colour
map and mode, several viewers side by side.
"""
import io
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.widgets.viewer import FieldViewer, FIELD_JS, quantize, dequantize, value_range
from mathphys_nb.widgets.concept_map import ConceptExplorer


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(2, 9), st.integers(2, 9), st.floats(-1e3, 1e3), st.floats(1e-3, 1e3))
def test_quantize_roundtrip(T, ny, nx, lo, span):
    f = np.random.default_rng(T * ny * nx).uniform(lo, lo + span, (T, ny, nx)).astype(np.float32)
    back = dequantize(quantize(f, lo, lo + span), f.shape, lo, lo + span)
    assert np.abs(back - f).max() <= span * 2 / 65535 + 1e-4 * max(1.0, abs(lo))


def test_diverging_range_is_centred():
    f = np.array([[[0.2, 3.0], [1.0, 2.0]]], np.float32)
    assert value_range(f, cmap='RdBu_r') == (-3.0, 3.0) and np.allclose(value_range(f), (0.2, 3.0))
    assert value_range(f, vmin=0, vmax=1, cmap='RdBu_r') == (0.0, 1.0)          # a given range is kept


@pytest.mark.skipif(shutil.which('node') is None, reason='node not installed')
def test_browser_module_parses(tmp_path):
    p = tmp_path / 'field.mjs'; p.write_text(FIELD_JS)
    r = subprocess.run(['node', '--check', str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'requestAnimationFrame(tick)' in FIELD_JS and 'setInterval' not in FIELD_JS    # drawn on demand, no loop


def test_single_frame_has_no_time_controls():
    one = FieldViewer(np.ones((4, 5)))
    assert one.time_controls.layout.display == 'none'
    one.set_frames(np.ones((3, 4, 5))); assert one.time_controls.layout.display is None and one.slider.max == 2
    one.set_frames(np.ones((4, 5))); assert one.time_controls.layout.display == 'none'


def test_explorer_opens_on_the_lessons_run():
    ex = ConceptExplorer(sim='diffusion_process', params=dict(n=16, t_end=0.02, n_frames=3, D=0.02), sliders=['D'],
                         cmap='magma', mode='image')
    assert ex.result.params['D'] == 0.02 and ex.viewer.shape == (3, 16, 16)
    np.testing.assert_allclose(ex.viewer.frames, ex.result.fields['u'], rtol=1e-6)
    assert [c for c in ex.sliders.children] == [ex.controls['D']] and ex.field.layout.display == 'none'
    assert type(ex.controls['D']).__name__ == 'FloatLogSlider' and ex.eq_box.layout.display == 'none'


def test_explorer_log_integer_slider():
    ex = ConceptExplorer(sim='brownian_motion', params=dict(n_walkers=300, n_frames=3, t_end=0.1), run=False)
    c = ex.controls['n_walkers']
    assert type(c).__name__ == 'FloatLogSlider' and c.min == 1 and c.max == 6
    c.value = 4321.4; assert ex.values()['n_walkers'] == 4321


def test_docs_stills_keep_colour_map_mode_and_run():
    import ipywidgets as w
    import matplotlib.image as mpimg
    from mathphys_nb.runs.docs import widget_picture
    x = np.linspace(0, np.pi, 12); f = np.stack([np.outer(np.sin(x), np.sin(x)) * k for k in (1, -1)])
    a = FieldViewer(f, cmap='RdBu_r', mode='image'); b = FieldViewer(f, cmap='magma')
    one = mpimg.imread(io.BytesIO(a.canvas.docs_png()), format='png')
    two = mpimg.imread(io.BytesIO(widget_picture(w.HBox([a.widget, b.widget]))), format='png')
    assert two.shape[1] > 1.8 * one.shape[1]                                       # both viewers, side by side
    assert widget_picture(a.widget) == a.canvas.docs_png()
    ax = a.still().axes[0]
    assert ax.images[0].get_cmap().name == 'RdBu_r' and ax.name == 'rectilinear'   # the viewer's map, flat for an image
    assert b.still().axes[0].name == '3d'                                          # a surface stays a surface
    ex = ConceptExplorer(sim='heat_equation', params=dict(n=16, t_end=0.01, n_frames=2, init='hot_square'), cmap='inferno')
    assert widget_picture(ex.widget) == ex.viewer.canvas.docs_png()               # the explorer's still is its own run
