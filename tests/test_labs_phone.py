"""The lab workbenches on a phone's width and on a desktop's (headless Chromium, tests/_browser.py): at 390 px (an
iPhone 12-15's CSS viewport width) the figures go below the controls, each the whole width, and never over a slider;
at 1400 px they stay beside the controls. The audit's screenshot at 390 px had lab 05's bubble gauge, memory heatmap
and parallelism map drawn over the TP/PP/CP/micro-batch sliders (marimo's hstack never wraps).

EXPLORER_LAB_SCREENSHOTS=DIR saves a screenshot of each lab's part 2 at each width (lab05-part2-390.png ...)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("marimo")

from test_labs_browser import WAIT_MS, served  # noqa: E402

PHONE, DESKTOP = 390, 1400
# part 2 of each lab: the answer that locks its prediction, and the name its first figure's reading starts with
PART2 = {"05": ("1.3-1.6x", "pipeline bubble gauge"),
         "06": ("2-5x", "communication waterfall"),
         "08": ("partly (1.1-1.9x)", "pipeline utilisation gauge")}

# Every visible control's box and every figure's box, through marimo's shadow roots (its sliders live in them).
BOXES = """() => {
  const controls = [], figures = [];
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height, role: el.getAttribute('role'),
            name: el.getAttribute('aria-label') || el.alt || el.tagName}; };
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      const role = el.getAttribute('role');
      if (el.tagName === 'IMG' && el.alt) figures.push(box(el));
      else if (['slider', 'switch', 'combobox'].includes(role) || el.tagName === 'SELECT'
               || (el.tagName === 'INPUT' && el.type !== 'hidden')) controls.push(box(el)); } };
  walk(document);
  return {controls: controls.filter(b => b.w > 0 && b.h > 0), figures: figures.filter(b => b.w > 0 && b.h > 0),
          scroll: document.documentElement.scrollWidth, view: window.innerWidth}; }"""


def overlap(a: dict, b: dict) -> float:
    """The area two boxes share, in px^2 (0 when they only touch)."""
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(w, 0) * max(h, 0)


def sliders(boxes: dict) -> list[dict]:
    """Part 2's sliders (the only part unlocked: parts 1 and 3 show their questions' radio buttons)."""
    return [c for c in boxes["controls"] if c["role"] == "slider"]


def part2(browser, url: str, lab: str, width: int, lock: bool) -> dict:
    """Part 2's boxes at `width` px, after locking its prediction (`lock`; else it was locked before: kept)."""
    answer, figure = PART2[lab]
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.get_by_role("heading", name=f"Lab {lab}:").wait_for()
    if lock:
        page.get_by_text(answer, exact=True).click()
    page.wait_for_selector(f"img[alt^='{figure}']")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    time.sleep(1.0)  # the images' layout after they decode
    boxes = page.evaluate(BOXES)
    out = os.environ.get("EXPLORER_LAB_SCREENSHOTS")
    if out:
        page.locator(f"img[alt^='{figure}']").first.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -500)")
        time.sleep(0.5)
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"lab{lab}-part2-{width}.png"))
    page.close()
    return boxes


@pytest.mark.parametrize("lab", sorted(PART2))
def test_part2_figures_stack_below_the_controls_on_a_phone_and_sit_beside_them_on_a_desktop(browser, lab):
    with served(lab) as url:
        phone, desk = part2(browser, url, lab, PHONE, True), part2(browser, url, lab, DESKTOP, False)
    for boxes in (phone, desk):
        assert len(boxes["figures"]) >= 1 and len(sliders(boxes)) >= 1, boxes
        hits = [(f["name"][:40], c["name"]) for f in boxes["figures"] for c in boxes["controls"] if overlap(f, c) > 1]
        assert hits == [], hits
        assert boxes["scroll"] <= boxes["view"], boxes  # no horizontal scroll
    # phone: every figure below the last of part 2's sliders, and about the page's width (390 px less marimo's
    # margins and the column gap), not the 1/3 column it had
    lowest = max(c["y"] + c["h"] for c in sliders(phone))
    assert all(f["y"] >= lowest for f in phone["figures"]), (lowest, phone["figures"])
    assert all(f["w"] >= PHONE / 2 for f in phone["figures"]), phone["figures"]
    # desktop: side by side, every figure right of the controls' column
    right = max(c["x"] + c["w"] for c in sliders(desk))
    assert all(f["x"] >= right for f in desk["figures"]), (right, desk["figures"])
