"""Author a notebook from a percent-format script: `python tools/py2nb.py src.py nbs/NN_name.ipynb`.

Cells start with `# %%` (code) or `# %% [markdown]` (markdown, lines prefixed by `# `). The notebook, not the
script, is the source that gets committed; this is only a convenience for writing notebooks with nbformat.
Run `nbdev_export` and `nbdev_clean` afterwards.
"""
import sys

import jupytext
import nbformat


def convert(src: str, dst: str):
    nb = jupytext.read(src, fmt='py:percent')
    nb.metadata = {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}
    for c in nb.cells:
        c.metadata = {}
    nbformat.validate(nb)
    nbformat.write(nb, dst)


if __name__ == '__main__':
    convert(*sys.argv[1:3])
