"""How the lab apps look: marimo elements and layouts around `explorer.labs.kit` (which computes everything).

Every instrument is the PNG of an `explorer.reports.plots` figure (the same function the CLI reports call),
shown with its reading as alt text; tables are marimo's interactive tables. Each function takes the `mo`
module so that importing this file never needs marimo.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from explorer.labs.kit import MOVES_SHOWN, Checked, Control, Live, Part, Plot, Saved, record_run
from explorer.report import Report, Table

LOCK_NOTE = "Lock your prediction above to unlock the workbench."
RUN_LABEL = "Run this configuration (one move)"
LONG_RANGE = 16  # a slider over more whole numbers in a row than this takes the whole width
# marimo writes each column's data type (int64, str, bool) under its header: program words a student never typed
TABLE_OPTIONS = {"show_data_types": False}


def header(mo: Any, lab: str, title: str, track: str, exported: bool, kept_in: str = "") -> Any:
    from explorer.tracks import get_track, track_names

    t = get_track(track)
    others = [n for n in track_names() if n != t.key]  # the banner suggests a track other than the one open
    how = ("This page was exported: it shows every instrument at its starting value; run "
           f"`explore lab {lab} --track {track}` for the live workbench." if exported else
           "Each part: lock a prediction, then set the controls and run the configuration (each run is one move, "
           "one estimate of the explorer's cost model, however the controls were moved), press check to see your "
           "moves beside the proven optimum, and answer the reflection."
           # (no command-line flag on the page: the CLI's --reset deletes the same file)
           + (f" Your predictions and moves are kept in `{kept_in}`: a reload finds them as you left them; delete "
              "that file to start this lab afresh." if kept_in else ""))
    return mo.vstack([mo.md(f"# Lab {lab}: {title}"),
                      mo.md(f"**Track {track}**: {html.escape(t.workload.model.name)} on {t.cluster.devices:,} "
                            f"{html.escape(t.device_plural)}. Another track: add `?track={others[0]}` "
                            f"({', '.join(others)}) to the address."),
                      mo.md(how)])


def controls(mo: Any, part: Part, start: dict[str, Any] | None = None) -> Any:
    """The part's sliders, drop-downs and switches (each at `start`'s value, else its default) as one marimo
    dictionary: the elements `run_form` lays out."""
    start = start or {}
    return mo.ui.dictionary({c.name: _element(mo, c, start.get(c.name, c.default)) for c in part.controls()})


def run_form(mo: Any, ctrl: Any) -> Any:
    """The controls in a form: the instruments, the move log and the move counter follow the configuration the
    student runs (the submit button, or Ctrl+Enter), never a value passed on the way. A slider moved by arrow keys
    sent every step it passed (PP 8 -> 2 was two moves) while a mouse drag sent one (debounced): now one run is one
    move however the controls were set. Its value is None until the first run."""
    # plain HTML, one control a line (markdown could read a name's underscores as emphasis and break its slot)
    layout = mo.Html("".join(f"<div style='margin: 0.4em 0'>{{{n}}}</div>" for n in ctrl.elements))
    return mo.ui.form(mo.ui.batch(layout, dict(ctrl.elements)), submit_button_label=RUN_LABEL,
                      submit_button_tooltip="Estimate this configuration: one move of the lab's rule")


def _element(mo: Any, c: Control, value: Any = None) -> Any:
    value = c.default if value is None else value
    if c.kind == "switch":
        return mo.ui.switch(value=bool(value), label=c.label)
    if c.kind == "steps" and len(c.options) >= 2:
        ints = all(isinstance(o, int) and not isinstance(o, bool) for o in c.options)
        if ints and len(c.options) > LONG_RANGE and c.options == list(range(c.options[0], c.options[-1] + 1)):
            # every whole number in a range (workers 1-104, accumulation 1-64): the whole width for the mouse, and
            # arrow keys step by one (a key press is not a move: only a run is). marimo's typed-number box
            # (include_input) is not used: it names itself to a screen reader by the label's markup, '<span ...>'.
            return mo.ui.slider(start=c.options[0], stop=c.options[-1], step=1, value=value, label=c.label,
                                show_value=True, full_width=True)
        return mo.ui.slider(steps=list(c.options), value=value, label=c.label, show_value=True)
    labels = {c.labels.get(o, str(o)): o for o in c.options}
    default = next((k for k, v in labels.items() if v == value), next(iter(labels)))
    return mo.ui.dropdown(options=labels, value=default, label=c.label)


def lock(mo: Any, part: Part) -> Any:
    """The prediction asked first (a radio: the student's choice is the option's text)."""
    q = part.lock
    return mo.ui.radio(options=q.options, label=f"**Predict first.** {q.text}")


def part_header(mo: Any, part: Part) -> Any:
    rule = f" The rule: find it in {part.rule} moves." if part.rule and str(part.rule) not in part.intro else ""
    return mo.vstack([mo.md(f"## {part.title}"), mo.md(part.intro + rule)])


def lock_view(mo: Any, part: Part, radio: Any, kept: str | None, error: str = "") -> Any:
    """The prediction: the question until it is answered, then the kept answer (it cannot change). `error`: why
    the lock could not be saved (a reload would then ask again)."""
    if kept is None:
        return mo.vstack([part_header(mo, part), radio])
    items = [part_header(mo, part),
             mo.callout(mo.md(f"**Your prediction (locked):** {html.escape(kept)}  \n"
                              f"*{html.escape(part.lock.text)}*"), kind="neutral")]
    if error:
        items.append(not_saved(mo, error))
    return mo.vstack(items)


def not_saved(mo: Any, error: str) -> Any:
    return mo.callout(mo.md(f"Not saved: {html.escape(error)}."), kind="warn")


def locked(mo: Any) -> Any:
    return mo.callout(mo.md(LOCK_NOTE), kind="warn")


def plot_image(mo: Any, part: Part, plot: Plot, width: int | str = "100%") -> Any:
    """An instrument: the explorer's figure as PNG, its reading as alt text and caption."""
    from explorer.reports.plots import figure_png

    png = figure_png(_draw(plot.name, part.stand_in({plot.name: plot.data})))
    return mo.image(png, alt=plot.reading, width=width, caption=plot.reading)


def report_plot(mo: Any, name: str, report: Report, reading: str) -> Any:
    from explorer.reports.plots import render_png

    return mo.image(render_png(name, report), alt=reading, width="100%", caption=reading)


def _draw(name: str, report: Report) -> Any:
    from explorer.reports.plots import draw

    return draw(name, report)


def workbench(mo: Any, part: Part, form: Any, live: Live, moves: int, error: str = "") -> Any:
    """The controls' form with the readouts and the move counter, the instruments beside it (below it on a narrow
    page: controls_beside_figures). `error`: why the moves could not be saved."""
    left = [mo.md("**Workbench**"), form, counter(mo, part, moves)]
    if error:
        left.append(not_saved(mo, error))
    if live.error:
        left.append(mo.callout(mo.md(f"Not a valid configuration: {html.escape(live.error)}"), kind="danger"))
    if live.readouts:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td><b>{html.escape(v)}</b></td></tr>"
                       for k, v in live.readouts)
        left.append(mo.Html(f"<table class='readouts'>{rows}</table>"))
    banners = [mo.callout(mo.md(html.escape(a)), kind="danger") for a in live.alerts]
    figs = [plot_image(mo, part, p) for p in live.plots]
    return mo.vstack([*banners, controls_beside_figures(mo, mo.vstack(left), mo.vstack(figs))])


# The workbench's two columns, in CSS px (1 rem = 16 px): the controls need about 18 rem for a label beside its
# slider, the figures about 30 rem to be read; a page narrower than both (a phone) puts the figures under the
# controls, each the whole width.
CONTROLS_MIN_REM = 18
FIGURES_MIN_REM = 30


def controls_beside_figures(mo: Any, controls: Any, figures: Any) -> Any:
    """The controls on the left, the figures on the right (1 : 2 of the spare width), side by side while both
    columns fit at their minimum widths; on a narrower page the figures wrap below the controls and both take the
    whole width. marimo's hstack(widths=[1, 2]) never wrapped (its columns are `flex: 1` and `flex: 2`, a zero
    basis): at 390 px the figures were drawn over the sliders, whose labels were squeezed to about 80 px."""
    column = "min-width: 0; max-width: 100%; display: flex; flex-direction: column"
    return mo.Html("<div class='workbench-columns' style='display: flex; flex-wrap: wrap; gap: 1rem; "
                   "align-items: flex-start; width: 100%'>"
                   f"<div class='workbench-controls' style='flex: 1 1 {CONTROLS_MIN_REM}rem; {column}'>"
                   f"{controls.text}</div>"
                   f"<div class='workbench-figures' style='flex: 2 1 {FIGURES_MIN_REM}rem; {column}'>"
                   f"{figures.text}</div></div>")


def run_part(mo: Any, part: Part, form: Any, start: dict[str, Any], moves: Callable[[], list[dict[str, Any]]],
             log: Callable[[list[dict[str, Any]]], Any], saved: Saved, kept: Callable[[], str | None],
             unlocked: bool) -> tuple[Live, dict[str, Any]]:
    """A part's workbench cell, the same for every part: behind the lock note until the prediction is locked
    (`kept()`, or `unlocked` on an exported page), then the configuration run in `form` (kit.record_run: a run is a
    move, logged by `moves`/`log` and kept in `saved`) laid out as the cell's output (mo.output.replace: the cell
    ends on an assignment, so marimo keeps it). Returns (live, values) for the cells that follow (check grades the
    moves at `values`)."""
    mo.stop(kept() is None and not unlocked, locked(mo))
    values, live, count = record_run(part, form.value, start, moves, log, saved)
    mo.output.replace(workbench(mo, part, form, live, count, saved.error))
    return live, values


def counter(mo: Any, part: Part, moves: int) -> Any:
    """The move counter of the lab's iteration rule."""
    if part.rule:
        over = moves > part.rule
        text = f"Moves: **{moves}** of {part.rule}" + (" (past the lab's rule)" if over else "")
        return mo.callout(mo.md(text), kind="warn" if over else "info")
    return mo.md(f"Moves: **{moves}**")


def moves_table(mo: Any, part: Part, moves: list[dict[str, Any]]) -> Any:
    """The move log: the controls' labels and their options' labels (kit.Part.move_rows), no data types."""
    if not moves:
        return mo.md("No move yet: the starting point is not a move.")
    import pandas as pd

    df = pd.DataFrame(part.move_rows(moves))
    df.insert(0, "move", [str(k) for k in range(1, len(moves) + 1)])
    return mo.ui.table(df.tail(MOVES_SHOWN), selection=None, label=f"your moves (the last {MOVES_SHOWN})",
                       **TABLE_OPTIONS)


def check_view(mo: Any, part: Part, checked: Checked, kept: str | None) -> Any:
    """The grader's verdict, the moves beside the optimum (and on the frontier), the prediction revealed."""
    items = [mo.md(f"**The explorer's answer** ({checked.report.status}): "
                   f"{html.escape(checked.headline or checked.report.headline)}")]
    for f in checked.verdict:
        if f.answer == (checked.headline or checked.report.headline):
            continue  # the headline, already said above
        items.append(mo.md(f"- **{html.escape(f.question)}** {html.escape(f.answer)}"))
    items.append(prediction_view(mo, part, kept))
    for name, rep in checked.plots:
        reading = "your moves beside the optimum" if name == "attempts" else "your moves on the optimal frontier"
        items.append(report_plot(mo, name, rep, reading))
    if checked.table is not None:
        items.append(table(mo, checked.table))
    return mo.vstack(items)


def prediction_view(mo: Any, part: Part, kept: str | None) -> Any:
    idx, why = part.lock_answer()
    right = part.lock.options[idx]
    mine = "no prediction locked" if kept is None else kept
    ok = kept == right
    return mo.callout(mo.md(f"**Your prediction:** {html.escape(mine)}  \n**The explorer:** {html.escape(right)}. "
                            f"{html.escape(why)}"), kind="success" if ok else "warn")


def table(mo: Any, t: Table) -> Any:
    """A report table as the reports print it (each column through its format: '51.5%', '50.89 GB'), not its raw
    values (0.5151, 50889987264.0), which `.rows` keeps."""
    import pandas as pd

    frame = pd.DataFrame(t.text_rows(), columns=t.columns)
    return mo.ui.table(frame, selection=None, label=t.title, pagination=True, **TABLE_OPTIONS)


def reflection_box(mo: Any) -> Any:
    """Where the student writes the reflection; its label names it for a screen reader (a placeholder is not a
    name, and it disappears once the student types)."""
    return mo.ui.text_area(placeholder="Your answer, in a few sentences", label="Your reflection", full_width=True)


def reflection_view(mo: Any, part: Part, text: Any, reveal: Any) -> Any:
    items = [mo.md(f"**Reflect.** {html.escape(part.reflect)}"), text, reveal]
    if reveal.value:
        ans = part.reflection()
        items.append(mo.callout(mo.md(f"**The explorer's answer.** {html.escape(ans.answer)}"), kind="success"))
    return mo.vstack(items)


def peek_view(mo: Any, part: Part, on: Any) -> Any:
    if not on.value:
        return on
    rows = "".join(f"<tr><td><b>{html.escape(f.name)}</b></td><td><code>{html.escape(f.expression)}</code>"
                   + (f"<br><i>{html.escape(f.note)}</i>" if f.note else "")
                   + f"</td><td>{html.escape(f.source)}</td></tr>" for f in part.formulas())
    return mo.vstack([on, mo.Html(f"<table class='peek'><tr><th>formula</th><th></th><th>source</th></tr>{rows}"
                                  "</table>")])
