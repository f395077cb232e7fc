"""The equation box reads text as data: hostile strings are refused quickly with an `EquationError`, and nothing
they contain ever runs (a sentinel file is never created). Checked for `parse_equation`, `equation_to_simulation`
and the path the ConceptExplorer's equation box takes (`equation_to_simulation(text, n=48).run(...)`), in this
process and, for the time bound, in a child process that a hang could not take down with the test run."""
import json
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from mathphys_nb.core import MathPhysError
from mathphys_nb.physics.equation import LIMITS, EquationError, equation_to_simulation, parse_equation

SECONDS = 3.0      # each refusal must come well within this (LIMITS['seconds'] bounds the reading itself)


def hostile(sentinel: str) -> list[str]:
    "About forty strings that try to run code, escape the grammar or make the reader do unbounded work."
    s = sentinel
    return [
        f"u_t = laplace(u) + __import__('os').system('touch {s}')",
        f"u_t = laplace(u) + exec(\"open('{s}', 'w').write('x')\")",
        f"u_t = laplace(u) + eval(\"open('{s}', 'w').write('x')\")",
        f"u_t = laplace(u) + open('{s}', 'w').write('x')",
        f"u_t = laplace(u) + (lambda: open('{s}', 'w'))()",
        f"u_t = lambda u: open('{s}', 'w')",
        "u_t = laplace(u) + ().__class__.__bases__[0].__subclasses__()",
        "u_t = laplace(u) + u.__class__",
        "u_t = __builtins__",
        "u_t = laplace(u) + __import__",
        f"u_t = f'{{open(\"{s}\", \"w\")}}'",
        f"u_t = `touch {s}`",
        f"u_t = laplace(u); open('{s}', 'w')",
        f"u_t = laplace(u)\nopen('{s}', 'w')",
        f"u_t = laplace(u) + ｏｐｅｎ('{s}', 'w')",                    # fullwidth letters: Python would read `open`
        "u_t = lаplace(u)",                                              # Cyrillic а
        "u_t = laplace(u) + ｅｘｅｃ",
        f"u_t = laplace(u) + getattr(u, 'x')",
        "u_t = laplace(u) + globals()",
        "u_t = laplace(u) + Symbol('x')",
        "u_t = laplace(u) + sympify('u')",
        "u_t = laplace(u) + u[0]",
        "u_t = laplace(u) + {}",
        "u_t = laplace(u) + u if u else u",
        "u_t = laplace(u) + u @ u",
        "u_t = laplace(u) # comment",
        "u_t = laplace(u) + \\",
        "u_t = laplace(u) + \x00",
        f"__import__('os').system('touch {s}') = u_t",
        "u_t = laplace(u) + 10**10**10",
        "u_t = laplace(u) + factorial(10**8)",
        "u_t = laplace(u) + 9" + "9" * 400,
        "u_t = laplace(u) + 1e999999",
        "u_t = laplace(u) + exp(exp(exp(10)))",
        "u_t = laplace(u) + 2" + "**2" * 12,
        "u_t = laplace(u) + ((((u + 1)**16)**16)**16)",
        "u_t = laplace(u) + (u + u_x + u_xx + u_y + u_yy + 1)**16 * (u + u_x + u_xx + u_y + u_yy + 1)**16",
        "u_t = laplace(u) + u**(10**6)",
        "u_t = laplace(u) + 1/0",
        "u_t = laplace(u) + u/(u - u)",
        "u_t = laplace(u) + 0**-1",
        "u_t = laplace(u) + log(0)",
        "u_t = laplace(u) + sqrt(-1)",
        "u_t = " + "+".join(["u"] * 50_000),                             # a 100k-character sum
        "u_t = " + "(" * 1000 + "u" + ")" * 1000,
        "u_t = " + "(" * 100 + "u" + ")" * 100,                          # short enough, too deep
        "u_t = laplace(u) + " + "-" * 200 + "u",
        "u_t = laplace(u) + 0x7fffffff",
        "u_t = laplace(u) + 1_000_000",
    ]


@contextmanager
def within(seconds: float):
    "Fail (instead of hanging) if the block runs longer than `seconds` of Python time."
    def alarm(*_): raise TimeoutError(f'took longer than {seconds} s')
    old = signal.signal(signal.SIGALRM, alarm); signal.setitimer(signal.ITIMER_REAL, seconds)
    try: yield
    finally: signal.setitimer(signal.ITIMER_REAL, 0); signal.signal(signal.SIGALRM, old)


def box(text: str):
    "What ConceptExplorer.run_equation does with the typed text (mathphys_nb/widgets/concept_map.py)."
    return equation_to_simulation(text, n=48).run(t_end=0.2, n_frames=21)


CASES = hostile('SENTINEL')


@pytest.mark.parametrize('path', [parse_equation, equation_to_simulation, box], ids=['parse', 'simulation', 'box'])
@pytest.mark.parametrize('i', range(len(CASES)))
def test_hostile_string_is_refused_and_runs_nothing(tmp_path, monkeypatch, path, i):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / 'pwned'
    text = hostile(str(sentinel))[i]
    t0 = time.perf_counter()
    with within(SECONDS), pytest.raises(EquationError) as e:
        path(text)
    assert time.perf_counter() - t0 < SECONDS
    assert isinstance(e.value, MathPhysError)
    msg = str(e.value)
    assert '\n' not in msg and len(msg) < 400, msg                        # one readable line
    assert not sentinel.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize('text, why', [
    ("u_t = laplace(u) + __import__('os').system('x')", "name '__import__' at position 20 is not allowed"),
    ('u_t = laplace(u) + exec(u)', 'unknown function(s) exec'),
    ('u_t = laplace(u) + 10**10**10', '10**10000000000 is out of range at position 22'),
    ('u_t = laplace(u) + factorial(10**8)', 'unknown function(s) factorial'),
    ('u_t = laplace(u) + 1/0', 'division by zero at position 21'),
    ('u_t = ' + '+'.join(['u'] * 50_000), 'the equation has 100005 characters'),
    ('u_t = ' + '(' * 100 + 'u' + ')' * 100, f"nesting deeper than {LIMITS['depth']} levels"),
    ('u_t = lаplace(u)', 'CYRILLIC SMALL LETTER A) at position 8'),
    ("u_t = laplace(u); u", "character ';' (U+003B) at position 17"),
    ('u_t = laplace(u) + log(0)', 'not a finite number'),
    ('u_t = laplace(u) + 2**100', 'a number larger than 1e+15'),
    ('u_t = laplace(u) + ((((u + 1)**16)**16)**16)', f"more than {LIMITS['terms']} terms"),
    ('u_t = laplace(u) + u**(10**6)', f"the power 1000000 is larger than {LIMITS['power']}"),
])
def test_refusal_names_the_token_and_position(text, why):
    with pytest.raises(EquationError) as e:
        parse_equation(text)
    assert why in str(e.value), str(e.value)


def test_harmless_math_is_still_accepted():
    "The grammar keeps what worked before: numbers, powers, the functions, coefficients, and Python's precedence."
    for text in ('u_t = 0.1*(u_xx + u_yy)', 'u_tt = 4*u_xx', 'u_t + 0.5*u_x = 0.01*u_xx', 'u_t = D*laplace(u) + u - u**3',
                 'u_t = 0.01*laplace(u) + sin(u)', 'u_t = 1e-2*laplace(u) + -u**2 + 2**-1', 'u_t + a*u_x = D*u_xx',
                 'u_tt = c**2*laplace(u)', 'u_t = nu*laplace(u) + r*u*(1 - u)', 'u_t = 0.01*laplace(u) + exp(-u**2)/2'):
        s = equation_to_simulation(text, n=16)
        assert s.run(10 * s.dt, 2).fields['u'].shape[0] == 2


def test_a_run_that_would_take_too_long_is_refused_before_it_starts():
    s = equation_to_simulation('u_t = 1e12*laplace(u)', n=48)
    t0 = time.perf_counter()
    with pytest.raises(EquationError, match='cell updates a run may take'):
        s.run(1.0)
    assert time.perf_counter() - t0 < 1.0


def test_params_cannot_smuggle_names_or_values():
    for params, why in (({'__import__': 1.0}, 'cannot name a coefficient'), ({'u': 1.0}, 'cannot name a coefficient'),
                        ({'k': '0.1'}, 'must be a real number'), ({'k': 1e300}, 'must be a real number'),
                        ({'k': float('nan')}, 'must be a real number'), ({1: 0.1}, 'cannot name a coefficient')):
        with pytest.raises(EquationError, match=why): parse_equation('u_t = k*u_xx', params)


def test_concept_explorer_box_refuses_without_running(tmp_path, monkeypatch):
    "The real widget: a hostile string leaves a red status line, no result, and no file."
    pytest.importorskip('ipywidgets')
    from mathphys_nb.widgets.concept_map import ConceptExplorer
    monkeypatch.chdir(tmp_path)
    ex = ConceptExplorer(); before = ex.result
    for text in hostile(str(tmp_path / 'pwned'))[:16] + ['u_t = laplace(u) + 10**10**10', 'u_t = laplace(u) + 1/0']:
        with within(SECONDS): ex.run_equation(text)
        assert ex.result is before and 'cannot simulate' in ex.status.value, ex.status.value
    assert not list(tmp_path.iterdir())


CHILD = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from tests.test_equation_security import hostile, box
from mathphys_nb.physics.equation import EquationError, parse_equation, equation_to_simulation
out = []
for text in hostile(sys.argv[2]):
    for name, f in (('parse', parse_equation), ('simulation', equation_to_simulation), ('box', box)):
        t0 = time.perf_counter()
        try: f(text); kind = 'accepted'
        except EquationError: kind = 'refused'
        except Exception as e: kind = type(e).__name__
        out.append((name, text[:40], kind, time.perf_counter() - t0))
print(json.dumps(out))
'''


def test_time_bound_in_a_child_process(tmp_path):
    "A hang inside C code (a huge integer power) cannot be interrupted by a signal: a child process with a timeout can."
    from pathlib import Path
    root = str(Path(__file__).resolve().parent.parent)
    r = subprocess.run([sys.executable, '-c', CHILD, root, str(tmp_path / 'pwned')], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(rows) == 3 * len(CASES)
    assert all(kind == 'refused' for _, _, kind, _ in rows), [row for row in rows if row[2] != 'refused']
    assert max(sec for *_, sec in rows) < SECONDS
    assert not (tmp_path / 'pwned').exists()
