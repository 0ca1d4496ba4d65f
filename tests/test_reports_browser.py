"""Every report page fits the screen in a real browser: headless Chromium at 1,280 and 390 px. The page
never scrolls sideways (wide tables scroll inside their own box on a wide screen and become cards on a phone), no
cell's content spills out of its cell, and no table row (no card's cell) grows into a column of one-word lines."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (1280, 390)
MAX_ROW_PX = 240  # about 12 lines of table text: taller means the columns were squeezed to nothing

CHECK = """() => {
  const width = window.innerWidth, scroll = document.scrollingElement.scrollWidth;
  const problems = [];
  for (const c of document.querySelectorAll('td, th')) {
    if (c.scrollWidth > c.clientWidth + 1)
      problems.push(`cell content spills out (${c.scrollWidth} > ${c.clientWidth} px): ${c.textContent.slice(0, 50)}`);
  }
  for (const tr of document.querySelectorAll('tr')) {
    // a row shown as a card on a phone (display:block, each cell on its own line) is as tall as its cells:
    // there each cell must not be squeezed; in a table the row must not be
    const parts = getComputedStyle(tr).display === 'block' ? [...tr.cells] : [tr];
    for (const el of parts) {
      const h = el.getBoundingClientRect().height;
      if (h > MAX_ROW_PX) problems.push(`row ${Math.round(h)} px tall: ${el.textContent.slice(0, 50)}`);
    }
  }
  for (const img of document.querySelectorAll('img')) {  // a plot may keep its size inside its scrolling box
    const box = img.closest('.plot-wrap') || img;
    if (box.getBoundingClientRect().right > width + 1) problems.push(`image wider than the page: ${img.alt}`);
  }
  return {width, scroll, problems};
}""".replace("MAX_ROW_PX", str(MAX_ROW_PX))


@pytest.fixture(scope="module")
def pages(all_reports) -> dict[str, str]:
    """Every answer's HTML page, plus an attempts report, a frontier report and the answer-key index."""
    from explorer.reports.attempts import attach_attempts
    from explorer.reports.frontier import frontier_report
    from explorer.reports.key import KeyEntry, index_html
    from explorer.reports.render import to_html

    from explorer.frontier import frontier
    from explorer.puzzles import LABS

    out = {f"{p}-{t}": to_html(r) for (p, t), r in all_reports.items()}
    attempts = attach_attempts(all_reports[("3d", "cloud")], ROOT / "docs" / "examples" / "attempts-3d-cloud.csv")
    out["3d-cloud with attempts"] = to_html(attempts)
    out["frontier 3d-cloud"] = to_html(frontier_report(frontier("3d", "cloud", gpu_counts=[128, 256], levels=2)))
    entries = [KeyEntry(r.lab, r.part, p, r.title, t, r.status, r.headline,
                        {f: f"lab{r.lab}/{p}-{t}.{f}" for f in ("html", "markdown", "json", "text")})
               for (p, t), r in all_reports.items()]
    out["key index"] = index_html(entries, LABS)
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_every_report_fits_the_window(browser, pages, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    failures = []
    try:
        for name, html in pages.items():
            page.set_content(html, wait_until="load")
            got = page.evaluate(CHECK)
            if got["scroll"] > got["width"]:
                failures.append(f"{name}: the page scrolls sideways ({got['scroll']} > {got['width']} px)")
            failures += [f"{name}: {p}" for p in got["problems"]]
    finally:
        page.close()
    assert failures == [], f"at {width} px:\n" + "\n".join(failures[:40])


def test_a_wide_table_scrolls_inside_its_box(browser, pages):
    # at 1,280 px (on a phone the table is a column of cards); the report's column is 1,000 px at most
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.set_content(pages["3d-cloud with attempts"], wait_until="load")
        boxes = page.evaluate("""() => [...document.querySelectorAll('.table-wrap')].map(
            b => ({box: b.clientWidth, table: b.scrollWidth, style: getComputedStyle(b).overflowX}))""")
    finally:
        page.close()
    wide = [b for b in boxes if b["table"] > b["box"]]
    assert wide, "the attempts table should be wider than the report's column"
    assert all(b["style"] == "auto" for b in wide)
