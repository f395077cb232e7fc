import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('MATHPHYS_PROGRESS', '0')


def venv_bin(name: str) -> str:
    "Path of a console script next to the running interpreter (the project's venv)."
    return str(Path(sys.executable).parent / name)
