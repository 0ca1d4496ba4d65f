"""The lab apps in a real browser: `explore lab XX --track cloud` serves the marimo app on localhost, headless
Chromium (Debian's, driven by Playwright: tests/_browser.py) locks a prediction, moves a slider, runs the
configuration and sees the instruments change to what the explorer computes. One test per lab, and one that a
reload keeps the lock and the moves and that a change keyed in two arrow presses is one move.

EXPLORER_LAB_SCREENSHOTS=DIR saves a screenshot of each app after its moves (docs/img/lab05-cloud.png ...)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("marimo")

START_TIMEOUT_S = 60
WAIT_MS = 120_000  # a cell's first run solves the track's report once; the machine may be shared


RUN = "Run this configuration (one move)"  # explorer.labs.ui.RUN_LABEL


@contextmanager
def served(lab: str, track: str = "cloud", state: str | None = None) -> Iterator[str]:
    """`explore lab LAB --track TRACK --no-browser` on a free port; yields its URL, stops it after. The locks and
    moves it keeps go to `state` (a fresh temporary directory unless given), never the user's own."""
    # A port the kernel picks (not a scan from a fixed number): a neighbour's test run on the same machine
    # starting its own app at the same moment cannot take it between the check and marimo's bind.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "EXPLORER_LAB_STATE": state or tempfile.mkdtemp(prefix="explorer-lab-state-")}
    proc = subprocess.Popen([sys.executable, "-c", "from explorer.cli import run; run()", "lab", lab, "--track",
                             track, "--no-browser", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = proc.stdout.readline().split(": ", 1)[1].split()[0]
        assert url == f"http://127.0.0.1:{port}/?track={track}"
        deadline = time.monotonic() + START_TIMEOUT_S
        import urllib.request

        while True:  # until marimo answers
            try:
                urllib.request.urlopen(url, timeout=2).read(64)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"marimo did not start: {proc.stdout.read()[-2000:]}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def alt(page, prefix: str) -> str:
    return page.locator(f"img[alt^='{prefix}']").first.get_attribute("alt")


def src(page, prefix: str) -> str:
    return page.locator(f"img[alt^='{prefix}']").first.get_attribute("src")


def wait_alt_change(page, prefix: str, old: str) -> str:
    page.wait_for_function("([p, a]) => { const i = document.querySelector(`img[alt^='${p}']`);"
                           " return i && i.alt !== a; }", arg=[prefix, old], timeout=WAIT_MS)
    return alt(page, prefix)


def move(page, slider: str, key: str, times: int = 1) -> None:
    """Key a slider `times` steps, then run the configuration (Ctrl+Enter submits marimo's form): one move."""
    s = page.get_by_role("slider", name=slider)
    s.focus()
    for _ in range(times):
        page.keyboard.press(key)
    page.keyboard.press("Control+Enter")


def screenshot(page, name: str, anchor: str) -> None:
    out = os.environ.get("EXPLORER_LAB_SCREENSHOTS")
    if not out:
        return
    page.locator(f"img[alt^='{anchor}']").first.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -260)")
    time.sleep(1.0)
    Path(out).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(out) / f"{name}.png"))


def open_app(browser, url: str, lab: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.wait_for_selector("text=Predict first")
    page.get_by_role("heading", name=f"Lab {lab}:").wait_for()  # the app of this lab, not another's
    return page


def test_lab05_pp_slider_moves_the_bubble_gauge_and_the_memory_heatmap(browser):
    """Part 2 on the cloud track: the crisis plan TP=8 PP=8 DP=16 mb=2 has a 7/23 = 30.4% bubble; PP 8 -> 4
    makes it (4-1)/(8+4-1) = 3/11 = 27.3% (hand derivation in test_labs.py) and moves the heatmap's chosen cell."""
    import explorer

    with served("05") as url:
        page = open_app(browser, url, "05")
        assert page.get_by_text("Your prediction (locked)").count() == 0
        assert page.locator("img[alt^='pipeline bubble gauge']").count() == 0  # locked until predicted
        page.get_by_text("1.3-1.6x", exact=True).click()
        page.wait_for_selector("img[alt^='pipeline bubble gauge']")
        page.get_by_text("Your prediction (locked): 1.3-1.6x").wait_for()
        g0, h0, img0 = alt(page, "pipeline bubble gauge"), alt(page, "memory heatmap"), src(page, "memory heatmap")
        assert g0 == "pipeline bubble gauge: 30.4% at PP=8"
        move(page, "pipeline parallel PP", "ArrowLeft")
        g1 = wait_alt_change(page, "pipeline bubble gauge", g0)
        page.wait_for_function("a => document.querySelector(\"img[alt^='memory heatmap']\").alt !== a", arg=h0)
        h1 = alt(page, "memory heatmap")
        assert g1 == "pipeline bubble gauge: 27.3% at PP=4"
        e = explorer.estimate(track="cloud", tp=8, pp=4, micro_batch=2, zero=1, recompute="selective")
        assert h1 == f"memory heatmap: {e.memory_total / 1e9:.2f} GB per GPU at TP=8 PP=4"
        assert src(page, "memory heatmap") != img0  # the picture itself was redrawn
        move(page, "micro-batch (sequences)", "ArrowLeft")  # mb 2 -> 1: twice the micro-batches
        g2 = wait_alt_change(page, "pipeline bubble gauge", g1)
        assert g2 == "pipeline bubble gauge: 15.8% at PP=4"  # (4-1)/(16+4-1) = 3/19
        move(page, "virtual stages v (interleaving)", "ArrowRight")  # v 1 -> 2: (4-1)/(2x16+4-1) = 3/35
        assert wait_alt_change(page, "pipeline bubble gauge", g2) == "pipeline bubble gauge: 8.6% at PP=4"
        page.get_by_text("Moves: 3 of 10").wait_for()
        screenshot(page, "lab05-cloud", "pipeline bubble gauge")


def test_lab05_reload_keeps_the_lock_and_the_moves_and_two_key_presses_are_one_move(browser, tmp_path):
    """PP 8 -> 2 keyed with two arrow presses, then run, is one move (the review counted two: each key press sent
    a value, while a mouse drag sent one); a reload of the page finds the locked prediction, the move counter and
    the configuration last run, not a fresh part (marimo's state lives in a session, which a reload replaces)."""
    with served("05", state=str(tmp_path)) as url:
        page = open_app(browser, url, "05")
        page.get_by_text("1.3-1.6x", exact=True).click()
        page.wait_for_selector("img[alt^='pipeline bubble gauge']")
        g0 = alt(page, "pipeline bubble gauge")
        s = page.get_by_role("slider", name="pipeline parallel PP")
        s.focus()
        page.keyboard.press("ArrowLeft")  # 8 -> 4, not run: nothing is estimated
        page.keyboard.press("ArrowLeft")  # 4 -> 2
        time.sleep(1.0)
        assert alt(page, "pipeline bubble gauge") == g0
        page.get_by_role("button", name=RUN).first.click()
        g1 = wait_alt_change(page, "pipeline bubble gauge", g0)
        assert g1.endswith("at PP=2")
        page.get_by_text("Moves: 1 of 10").wait_for()
        saved = next(tmp_path.glob("lab05-cloud.json"))
        assert '"kept": "1.3-1.6x"' in saved.read_text()
        page.reload()
        page.get_by_text("Your prediction (locked): 1.3-1.6x").wait_for()
        page.get_by_text("Moves: 1 of 10").wait_for()
        page.wait_for_selector("img[alt^='pipeline bubble gauge']")
        assert alt(page, "pipeline bubble gauge") == g1  # the configuration last run, not the crisis plan
        assert page.get_by_text("1.3-1.6x", exact=True).count() == 0  # the question is not asked again


def test_lab06_aggregation_slider_moves_the_waterfall_and_the_topology(browser):
    with served("06") as url:
        page = open_app(browser, url, "06")
        page.get_by_text("2-5x", exact=True).click()
        page.wait_for_selector("img[alt^='communication waterfall']")
        w0, t0 = alt(page, "communication waterfall"), alt(page, "network topology")
        assert t0 == "network topology: aggregation g = 1"
        move(page, "aggregation factor g (hierarchical mode when g > 1)", "End")
        w1 = wait_alt_change(page, "communication waterfall", w0)
        assert alt(page, "network topology") == "network topology: aggregation g = 8"
        assert w1 != w0
        page.get_by_text("Moves: 1 of 10").wait_for()
        # two more moves: accumulate 2 micro-batches, then 4 (two key presses, one run)
        for k, presses in ((2, 1), (3, 2)):
            move(page, "gradient accumulation steps", "ArrowRight", presses)
            page.get_by_text(f"Moves: {k} of 10").wait_for()
        w2 = alt(page, "communication waterfall")
        assert w2 == w1  # accumulation changes the exposed time per sample, not one AllReduce
        page.get_by_role("button", name="Check: solve and grade my moves").first.click()
        page.wait_for_selector("text=The explorer's answer")
        page.wait_for_selector("img[alt='your moves beside the optimum']")
        screenshot(page, "lab06-cloud", "communication waterfall")


def test_lab08_worker_slider_fills_the_pipeline_gauge(browser):
    """Cloud image path: one data worker starves the 8 GPUs (preparation is the bottleneck); 64 feed them
    (test_labs.py::test_dataloader_gauge_moves_with_the_workers has the numbers). The slider stops at every worker
    count 1-104 (the balance point's search): 63 key presses, one run, one move."""
    with served("08") as url:
        page = open_app(browser, url, "08")
        page.get_by_text("partly (1.1-1.9x)", exact=True).click()
        page.wait_for_selector("img[alt^='pipeline utilisation gauge']")
        u0 = alt(page, "pipeline utilisation gauge")
        assert u0.startswith("pipeline utilisation gauge: bottleneck prep")
        move(page, "data-loading workers", "ArrowRight", 63)  # 1 -> 64 workers
        u1 = wait_alt_change(page, "pipeline utilisation gauge", u0)
        page.wait_for_function("() => !document.querySelector(\"img[alt^='pipeline utilisation gauge']\")"
                               ".alt.includes('bottleneck prep')")
        assert "bottleneck prep" in u0 and u1 != u0
        page.get_by_text("Moves: 1 of 5").wait_for()
        assert page.get_by_role("slider", name="data-loading workers").get_attribute("aria-valuenow") == "64"
        page.get_by_role("button", name="Check: solve and grade my moves").first.click()
        page.wait_for_selector("img[alt='your moves beside the optimum']")
        page.get_by_text("Your prediction: partly (1.1-1.9x)").wait_for()
        screenshot(page, "lab08-cloud", "pipeline utilisation gauge")


def test_exported_page_says_why_it_is_blank_offline(browser, tmp_path):
    """`explore lab 08 --export`: marimo's page script and fonts load from cdn.jsdelivr.net, so offline the page was
    blank. Now a note says so (and names the live command); with the scripts reachable (here served from the
    installed marimo's own copy, marimo/_static, the same version the export names) the app replaces it."""
    import marimo
    from _explore import explore

    code, out, err = explore("lab", "08", "--track", "tiny", "--export", str(tmp_path))
    assert code == 0, err
    url = (tmp_path / "lab08-tiny.html").as_uri()
    static = Path(marimo.__file__).parent / "_static"
    cdn = f"https://cdn.jsdelivr.net/npm/@marimo-team/frontend@{marimo.__version__}/dist/"

    def local(route):
        path = static / route.request.url.removeprefix(cdn).split("?")[0]
        if route.request.url.startswith(cdn) and path.is_file():
            route.fulfill(path=str(path), headers={"Access-Control-Allow-Origin": "*"})
        else:
            route.abort()

    offline = browser.new_page(viewport={"width": 390, "height": 900})
    offline.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    offline.goto(url)
    note = offline.locator("#explorer-offline-note")
    note.wait_for(timeout=30_000)
    said = note.inner_text()
    assert "needs a network connection" in said and "cdn.jsdelivr.net" in said
    assert "explore lab 08 --track tiny" in said
    assert offline.evaluate("document.documentElement.scrollWidth") <= 390  # readable on a phone
    offline.close()

    online = browser.new_page(viewport={"width": 1400, "height": 900})
    online.set_default_timeout(WAIT_MS)
    online.route("https://cdn.jsdelivr.net/**", local)
    online.goto(url)
    online.get_by_role("heading", name="Lab 08:").wait_for()
    online.wait_for_selector("img[alt^='pipeline utilisation gauge']")
    assert online.locator("#explorer-offline-note").count() == 0
    online.close()
