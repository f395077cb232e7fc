"""The docs fallback (no Quarto) builds, and every notebook gets a page."""
from conftest import ROOT


def test_fallback_site_has_a_page_per_notebook(tmp_path):
    from mathphys_nb.runs.docs import build_fallback_site
    pages = build_fallback_site(tmp_path, execute=False)
    want = {p.relative_to(ROOT / 'nbs').with_suffix('.html') for p in (ROOT / 'nbs').rglob('*.ipynb')
            if not any(part.startswith(('_', '.')) for part in p.relative_to(ROOT / 'nbs').parts)}
    got = {p.relative_to(tmp_path) for p in pages}
    assert want == got, f'missing pages: {sorted(map(str, want - got))}'
    for p in pages:
        text = p.read_text()
        assert '<html' in text and len(text) > 1000, p
    assert (tmp_path / 'toc.html').exists()
