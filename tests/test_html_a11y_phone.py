"""A report's tables are readable on a phone: headless Chromium at 390 x 844 (an iPhone 12 to 14's CSS viewport).

At 390 px the 3D report's "Optimum and next best" table showed rank and configuration only (MFU, step, bubble and
memory off-screen) and the Constraints table hid its state column (BINDING), each behind a sideways scroll inside
its box with no hint. Now every table of three or more columns is a column of cards on a phone, each cell on its
own line after its column's name, so every cell is on screen with nothing to scroll; on a wider screen a table
wider than its box still scrolls inside it, with a shadow at the edge that has more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CELLS = """() => [...document.querySelectorAll('.table-wrap')].map(box => {
  const r = box.getBoundingClientRect();
  return {
    title: (box.previousElementSibling || {}).textContent || '',
    box: box.clientWidth, table: box.scrollWidth,
    head: [...box.querySelectorAll('thead th')].map(th => th.textContent),
    cells: [...box.querySelectorAll('tbody td')].map(td => {
      const c = td.getBoundingClientRect();
      return {text: td.textContent, label: td.dataset.label || null, left: c.left, right: c.right,
              width: c.width, before: getComputedStyle(td, '::before').content};
    }),
    left: r.left, right: r.right, shadow: getComputedStyle(box).backgroundImage,
  };
})"""


@pytest.fixture(scope="module")
def report():
    import explorer

    return explorer.solve("3d", track="cloud")


def _tables(browser, html: str, width: int, height: int = 844) -> list[dict]:
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.set_content(html, wait_until="load")
        return page.evaluate(CELLS)
    finally:
        page.close()


def test_every_cell_of_the_3d_report_is_on_screen_at_390_px(browser, report):
    from explorer.reports.render import to_html

    tables = _tables(browser, to_html(report, pngs={}), 390)
    by_title = {t["title"]: t for t in tables}
    assert {"Constraints", "Optimum and next best"} <= set(by_title)
    problems = []
    for t in tables:
        if t["table"] > t["box"] + 1:
            problems.append(f"{t['title']}: scrolls sideways ({t['table']} > {t['box']} px)")
        for c in t["cells"]:
            if c["left"] < -1 or c["right"] > 390 + 1 or c["width"] < 1:
                problems.append(f"{t['title']}: cell {c['text'][:30]!r} off-screen ({c['left']:.0f}..{c['right']:.0f})")
    assert problems == [], "\n".join(problems[:30])

    # the columns that were off-screen: the constraints' state, the optimum's MFU and memory, each named
    state = [c for c in by_title["Constraints"]["cells"] if c["label"] == "state"]
    assert state and any(c["text"].startswith("BINDING") for c in state)
    assert all(c["before"] != "none" for c in state)  # "state: " written before the value
    best = by_title["Optimum and next best"]["cells"]
    for column in ("MFU", "memory", "step (s)"):
        assert [c for c in best if c["label"] == column], column


def test_a_two_column_table_stays_a_table_at_390_px(browser, report):
    from explorer.reports.render import to_html

    figures = _tables(browser, to_html(report, pngs={}), 390)[0]
    assert figures["title"] == "Figures" and figures["head"] == ["figure", "value"]
    rows = {}
    for c in figures["cells"]:
        rows.setdefault(c["label"], []).append(c)
    # the value column sits to the right of the label column, on the same rows: a table, not cards
    assert min(c["left"] for c in rows["value"]) > max(c["left"] for c in rows["figure"])
    assert all(c["right"] <= 391 for c in rows["value"])


def test_a_wide_table_on_a_wide_screen_scrolls_in_its_box_with_an_edge_shadow(browser, report):
    from explorer.reports.attempts import attach_attempts
    from explorer.reports.render import to_html

    attempts = attach_attempts(report, ROOT / "docs" / "examples" / "attempts-3d-cloud.csv")
    tables = _tables(browser, to_html(attempts, pngs={}), 1280)
    wide = [t for t in tables if t["table"] > t["box"] + 1]
    assert wide, "the graded attempts table (a column per option) should be wider than the 1,000 px column"
    for t in wide:
        assert t["shadow"].count("radial-gradient") == 2, t["shadow"]  # a shadow for each edge
        assert t["right"] <= 1280


def test_every_table_of_three_or_more_columns_is_marked_for_cards():
    from explorer.reports.html import table_html

    three = table_html(["constraint", "value", "state"], [["memory", 1.0, "ok"]])
    two = table_html(["figure", "value"], [["mfu", 0.5]])
    assert three.startswith("<div class='table-wrap cards'>") and "data-label='state'" in three
    assert two.startswith("<div class='table-wrap'>")
    assert table_html(["a'b", "x", "y"], [[1, 2, 3]]).count("data-label='a&#x27;b'") == 1  # quoted safely
