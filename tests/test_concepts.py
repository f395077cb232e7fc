"""The concept map: every entry of MATH_TO_PHYSICS_MAP is a registered simulation that runs at a tiny configuration,
and every parameter turns into a valid slider."""
import math

import numpy as np
import pytest

from mathphys_nb.physics.concepts import (MATH_TO_PHYSICS_MAP, CONCEPT_LABELS, concepts, simulations_for, run_concept,
                                  param_table, slider_specs, make_widgets, concept_label)
from mathphys_nb.core import UnknownNameError
from mathphys_nb.physics.simulation import SIMULATIONS, SimResult, get_simulation, simulation_names

for _n in simulation_names(): get_simulation(_n)
ALL = [s for c in MATH_TO_PHYSICS_MAP for s in MATH_TO_PHYSICS_MAP[c]]
SEED_KO = {'미분방정식': ['euler_flow', 'heat_equation'], '벡터 미적분': ['vector_field', 'curl_divergence'],
           '푸리에 변환': ['wave_decomposition', 'frequency_analysis'], '선형대수': ['transformation_matrix', 'eigenvalue_viz'],
           '확률론': ['brownian_motion', 'diffusion_process']}


def test_map_matches_the_seed():
    assert {CONCEPT_LABELS[c][1]: v for c, v in MATH_TO_PHYSICS_MAP.items()} == SEED_KO
    assert len(concepts()) == 5 and len(ALL) == 10 == len(set(ALL))
    assert all(get_simulation(s).tiny for s in ALL), 'every simulation of the map declares a tiny configuration'


@pytest.mark.parametrize('sim', ALL)
def test_every_entry_is_registered_and_runs(sim):
    missing = sorted(set(ALL) - set(SIMULATIONS))
    assert sim in SIMULATIONS, f'{sim} is not registered (missing: {missing})'
    spec = SIMULATIONS[sim]
    r = spec.fn(**spec.resolve(**spec.tiny))
    assert isinstance(r, SimResult) and r.name == sim
    for k, f in r.fields.items():
        assert f.ndim in (3, 4) and f.shape[0] == len(r.t), (k, f.shape)
        assert np.isfinite(f).all(), k


@pytest.mark.parametrize('sim', ALL)
def test_sliders_are_valid(sim):
    for (cls, kw), row in zip(slider_specs(sim), param_table(sim)):
        assert row['default'] == kw['value']
        if cls == 'Dropdown': assert kw['value'] in kw['options']
        elif cls == 'FloatLogSlider': assert kw['min'] <= math.log10(kw['value']) <= kw['max'] and kw['step'] > 0
        else: assert kw['min'] <= kw['value'] <= kw['max'] and kw['step'] > 0, (sim, row)


def test_widgets_build():
    ws = make_widgets('brownian_motion')
    assert type(ws['bc']).__name__ == 'Dropdown' and type(ws['n_walkers']).__name__ == 'IntSlider'
    assert type(ws['D']).__name__ == 'FloatLogSlider' and abs(ws['D'].value - 0.5) < 1e-9


def test_library_import_does_not_import_ipywidgets():
    import subprocess, sys
    code = 'import sys, mathphys_nb.physics.concepts; print("ipywidgets" in sys.modules)'
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip() == 'False'


def test_errors_name_the_options():
    with pytest.raises(UnknownNameError, match="unknown math concept 'topology'.*probability"): simulations_for('topology')
    with pytest.raises(UnknownNameError, match='belong to no simulation'): run_concept('linear_algebra', D=1.0)
    assert concept_label('vector_calculus', 'ko') == '벡터 미적분'


def test_run_concept_overrides():
    res = run_concept('linear_algebra', a=2.0, b=0.0, c=0.0, d=-1.0)
    assert res['eigenvalue_viz'].meta['kind'] == 'saddle'
    assert res['transformation_matrix'].params['preset'] == 'shear'       # a only applies to the custom preset there
