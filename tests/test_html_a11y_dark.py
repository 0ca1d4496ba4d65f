"""A report stays readable inside a dark notebook: headless Chromium renders the notebook fragment
(`Report._repr_html_`) inside host pages styled as dark VS Code, JupyterLab and marimo outputs are, and the
standalone page under a dark colour scheme; every piece of visible text must meet WCAG 2.1's AA contrast, 4.5:1
against what is painted behind it (https://www.w3.org/TR/WCAG21/#contrast-minimum; relative luminance and ratio
as defined there: https://www.w3.org/TR/WCAG21/#dfn-relative-luminance).

The report's CSS set its text to #1b1b1b with no background of its own, so on a dark host (#1e1e1e) the headings,
answers and unfilled table rows read at 1.1:1, near-invisible. The host styles below are the kinds of rule those
hosts apply: an inherited light colour on the body, light colours set on headings and table text (JupyterLab's
.jp-RenderedHTMLCommon table, marimo's prose headings, here placed after the report's own style, the worse case),
dark stripes and hover on table rows.
"""

from __future__ import annotations

import pytest

CONTRAST = """() => {
  const parse = c => { const p = c.match(/rgba?\\(([^)]+)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
                       return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3]));
  const behind = el => {  // every ancestor's background colour, painted from the root down
    const chain = []; for (let e = el; e; e = e.parentElement) chain.push(e);
    let c = [255, 255, 255];
    for (const e of chain.reverse()) c = over(parse(getComputedStyle(e).backgroundColor), c);
    return c;
  };
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = c => { const [r, g, b] = c.map(lin); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const bad = [];
  let checked = 0;
  for (const el of document.querySelectorAll('.explorer-report, .explorer-report *')) {
    if (['STYLE', 'SCRIPT', 'IMG'].includes(el.tagName)) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || getComputedStyle(el).visibility !== 'visible') continue;
    const bg = behind(el), fg = over(parse(getComputedStyle(el).color), bg);
    const r = ratio(fg, bg);
    checked++;
    if (r < 4.5) bad.push(`${el.tagName.toLowerCase()}.${el.className} ${r.toFixed(2)}:1 ` +
                          `${el.textContent.trim().slice(0, 40)}`);
  }
  return {checked, bad};
}"""

HOSTS = {
    "vscode-dark": ("<style>body{background:#1e1e1e;color:#cccccc}h1,h2,h3,th,td{color:#e0e0e0}</style>", "", ""),
    "jupyterlab-dark": (
        "<style>body{background:#111111;color:rgba(255,255,255,.87)}"
        ".jp-RenderedHTMLCommon{color:rgba(255,255,255,.87)}"
        ".jp-RenderedHTMLCommon table{color:rgba(255,255,255,.87);table-layout:fixed;margin-left:auto;"
        "margin-right:auto}"
        ".jp-RenderedHTMLCommon tbody tr:nth-child(odd){background:#111111}"
        ".jp-RenderedHTMLCommon tbody tr:hover{background:#1f3a5f}"
        ".jp-RenderedHTMLCommon td,.jp-RenderedHTMLCommon th{text-align:right}</style>",
        "<div class='jp-RenderedHTMLCommon'>", "</div>"),
    "marimo-dark": ("<style>body{background:#181c1a;color:#e5e7eb}</style>", "<div class='prose'>",
                    "</div><style>.prose :where(h1,h2,h3,h4,p,li,dt,dd,th,td,strong,b,code,figcaption)"
                    "{color:#f3f4f6}.prose :where(thead th){background:#222}</style>"),
}


@pytest.fixture(scope="module")
def reports():
    import explorer

    return {"sync-edge": explorer.solve("sync", track="edge"), "3d-cloud": explorer.solve("3d", track="cloud")}


def _host(name: str, fragment: str) -> str:
    head, before, after = HOSTS[name]
    return f"<!doctype html><html><head>{head}</head><body>{before}{fragment}{after}</body></html>"


@pytest.mark.parametrize("host", list(HOSTS))
def test_the_notebook_fragment_is_readable_on_a_dark_host(browser, reports, host):
    from explorer.reports.html import fragment

    page = browser.new_page(viewport={"width": 1000, "height": 900})
    failures = []
    try:
        for name, r in reports.items():
            page.set_content(_host(host, fragment(r, pngs={})), wait_until="load")
            got = page.evaluate(CONTRAST)
            assert got["checked"] > 50, got  # headings, answers, every table cell
            failures += [f"{name}: {b}" for b in got["bad"]]
            card = page.evaluate("getComputedStyle(document.querySelector('.explorer-report')).backgroundColor")
            if card != "rgb(255, 255, 255)":  # the report paints its own background
                failures.append(f"{name}: the report's background is {card}")
    finally:
        page.close()
    assert failures == [], f"on {host}:\n" + "\n".join(failures[:30])


@pytest.mark.parametrize("width", (1280, 390))
def test_the_page_is_readable_under_a_dark_colour_scheme(browser, reports, width):
    from explorer.reports.html import page as html_page

    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme="dark")
    failures = []
    try:
        for name, r in reports.items():
            page.set_content(html_page(r, pngs={}), wait_until="load")
            got = page.evaluate(CONTRAST)
            failures += [f"{name}: {b}" for b in got["bad"]]
    finally:
        page.close()
    assert failures == [], "\n".join(failures[:30])


def test_status_badges_meet_the_contrast_they_claim():
    """White text on each badge colour, computed here by hand from WCAG's formula: at least 4.5:1."""
    import re

    from explorer.reports.html import CSS

    def lum(hex_: str) -> float:
        def lin(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        r, g, b = (int(hex_[i:i + 2], 16) / 255 for i in (0, 2, 4))
        return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)

    badges = dict(re.findall(r"\.badge\.(\w+)\{background:#([0-9a-fA-F]{6})\}", CSS))
    badges["computed"] = re.search(r"\.computed\{background:#([0-9a-fA-F]{6})\}", CSS).group(1)
    assert set(badges) == {"optimal", "feasible", "infeasible", "computed"}
    for name, colour in badges.items():
        assert 1.05 / (lum(colour) + 0.05) >= 4.5, (name, colour)
