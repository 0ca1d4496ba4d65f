"""The lab workbench, one marimo app for labs 05, 06 and 08 (`explore lab 05 --track cloud` opens it).

The lab comes from the command line (`-- --lab 05`) or the page's address (`?lab=05`); its three parts are
explorer.labs.kit.PARTS[lab]. Each part asks for a prediction first, then unlocks the workbench: controls, the
instruments computed live by the explorer, the move counter, "check" (the solver's optimum and the grader's verdict
on your moves), the reflection with the explorer's answer on request, the math peek. All the numbers and figures
come from the explorer (explorer.labs.kit); this file only lays them out. Run as a script: `python -m
explorer.labs.workbench --lab 05 --track edge --export` (every cell, instruments unlocked).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="explorer: lab workbench")


@app.cell
def _():
    import marimo as mo

    from explorer.labs import kit, ui
    return kit, mo, ui


@app.cell
def _(mo):
    _args = mo.cli_args()
    _query = mo.query_params()
    track = str(_query.get("track") or _args.get("track") or "cloud").strip().lower()
    lab = str(_query.get("lab") or _args.get("lab") or "05").strip()
    unlocked = "export" in _args  # an exported page has no kernel: its instruments show the starting values
    return lab, track, unlocked


@app.cell
def _(kit, lab, mo, track, ui, unlocked):
    from explorer.labs import TITLES, lab_key

    try:
        lab_id = lab_key(lab)
        lab_parts = kit.parts(lab_id, track)
    except Exception as _exc:  # an unknown lab or track: one line, no traceback
        lab_id, lab_parts = lab[:20], None
        _why = str(_exc)
    mo.stop(lab_parts is None, mo.callout(mo.md(f"Cannot open lab {lab_id}: {_why}" if lab_parts is None
                                                else ""), kind="danger"))
    ui.header(mo, lab_id, TITLES[lab_id], track, unlocked)
    return (lab_parts,)


@app.cell
def _(lab_parts, mo, ui):
    p1 = lab_parts[0]
    p1_lock = ui.lock(mo, p1)
    p1_controls = ui.controls(mo, p1)
    p1_check = mo.ui.run_button(label="Check: solve and grade my moves", kind="success")
    p1_reflect = ui.reflection_box(mo)
    p1_reveal = mo.ui.switch(label="Show the explorer's answer")
    p1_peek = mo.ui.switch(label="Math peek")
    p1_kept, p1_keep = mo.state(None)
    p1_moves, p1_log = mo.state([])
    return (p1, p1_check, p1_controls, p1_keep, p1_kept, p1_lock, p1_log, p1_moves, p1_peek, p1_reflect,
            p1_reveal)


@app.cell
def _(mo, p1, p1_keep, p1_kept, p1_lock, ui):
    if p1_lock.value is not None and p1_kept() is None:
        p1_keep(p1_lock.value)  # the first answer is kept: the lock
    ui.lock_view(mo, p1, p1_lock, p1_kept() or p1_lock.value)
    return


@app.cell
def _(kit, mo, p1, p1_controls, p1_kept, p1_log, p1_moves, ui, unlocked):
    mo.stop(p1_kept() is None and not unlocked, ui.locked(mo))
    p1_live = p1.shown(p1_controls.value)
    _log = kit.log_move(p1_live.move)(p1_moves())  # the first entry is the starting point, not a move
    p1_log(_log)
    ui.workbench(mo, p1, p1_controls, p1_live, max(len(_log) - 1, 0))
    return (p1_live,)


@app.cell
def _(mo, p1, p1_check, p1_kept, p1_moves, ui, unlocked):
    mo.stop(p1_kept() is None and not unlocked)
    mo.vstack([ui.moves_table(mo, p1, p1_moves()[1:]), p1_check])
    return


@app.cell
def _(mo, p1, p1_check, p1_controls, p1_kept, p1_moves, ui):
    mo.stop(not p1_check.value)
    with mo.status.spinner(title="Solving the puzzle and grading your moves ..."):
        p1_checked = p1.check(p1_moves()[1:], p1_controls.value)
    ui.check_view(mo, p1, p1_checked, p1_kept())
    return (p1_checked,)


@app.cell
def _(mo, p1, p1_kept, p1_peek, p1_reflect, p1_reveal, ui, unlocked):
    mo.stop(p1_kept() is None and not unlocked)
    mo.vstack([ui.reflection_view(mo, p1, p1_reflect, p1_reveal), ui.peek_view(mo, p1, p1_peek)])
    return


@app.cell
def _(lab_parts, mo, ui):
    p2 = lab_parts[1]
    p2_lock = ui.lock(mo, p2)
    p2_controls = ui.controls(mo, p2)
    p2_check = mo.ui.run_button(label="Check: solve and grade my moves", kind="success")
    p2_reflect = ui.reflection_box(mo)
    p2_reveal = mo.ui.switch(label="Show the explorer's answer")
    p2_peek = mo.ui.switch(label="Math peek")
    p2_kept, p2_keep = mo.state(None)
    p2_moves, p2_log = mo.state([])
    return (p2, p2_check, p2_controls, p2_keep, p2_kept, p2_lock, p2_log, p2_moves, p2_peek, p2_reflect,
            p2_reveal)


@app.cell
def _(mo, p2, p2_keep, p2_kept, p2_lock, ui):
    if p2_lock.value is not None and p2_kept() is None:
        p2_keep(p2_lock.value)  # the first answer is kept: the lock
    ui.lock_view(mo, p2, p2_lock, p2_kept() or p2_lock.value)
    return


@app.cell
def _(kit, mo, p2, p2_controls, p2_kept, p2_log, p2_moves, ui, unlocked):
    mo.stop(p2_kept() is None and not unlocked, ui.locked(mo))
    p2_live = p2.shown(p2_controls.value)
    _log = kit.log_move(p2_live.move)(p2_moves())  # the first entry is the starting point, not a move
    p2_log(_log)
    ui.workbench(mo, p2, p2_controls, p2_live, max(len(_log) - 1, 0))
    return (p2_live,)


@app.cell
def _(mo, p2, p2_check, p2_kept, p2_moves, ui, unlocked):
    mo.stop(p2_kept() is None and not unlocked)
    mo.vstack([ui.moves_table(mo, p2, p2_moves()[1:]), p2_check])
    return


@app.cell
def _(mo, p2, p2_check, p2_controls, p2_kept, p2_moves, ui):
    mo.stop(not p2_check.value)
    with mo.status.spinner(title="Solving the puzzle and grading your moves ..."):
        p2_checked = p2.check(p2_moves()[1:], p2_controls.value)
    ui.check_view(mo, p2, p2_checked, p2_kept())
    return (p2_checked,)


@app.cell
def _(mo, p2, p2_kept, p2_peek, p2_reflect, p2_reveal, ui, unlocked):
    mo.stop(p2_kept() is None and not unlocked)
    mo.vstack([ui.reflection_view(mo, p2, p2_reflect, p2_reveal), ui.peek_view(mo, p2, p2_peek)])
    return


@app.cell
def _(lab_parts, mo, ui):
    p3 = lab_parts[2]
    p3_lock = ui.lock(mo, p3)
    p3_controls = ui.controls(mo, p3)
    p3_check = mo.ui.run_button(label="Check: solve and grade my moves", kind="success")
    p3_reflect = ui.reflection_box(mo)
    p3_reveal = mo.ui.switch(label="Show the explorer's answer")
    p3_peek = mo.ui.switch(label="Math peek")
    p3_kept, p3_keep = mo.state(None)
    p3_moves, p3_log = mo.state([])
    return (p3, p3_check, p3_controls, p3_keep, p3_kept, p3_lock, p3_log, p3_moves, p3_peek, p3_reflect,
            p3_reveal)


@app.cell
def _(mo, p3, p3_keep, p3_kept, p3_lock, ui):
    if p3_lock.value is not None and p3_kept() is None:
        p3_keep(p3_lock.value)  # the first answer is kept: the lock
    ui.lock_view(mo, p3, p3_lock, p3_kept() or p3_lock.value)
    return


@app.cell
def _(kit, mo, p3, p3_controls, p3_kept, p3_log, p3_moves, ui, unlocked):
    mo.stop(p3_kept() is None and not unlocked, ui.locked(mo))
    p3_live = p3.shown(p3_controls.value)
    _log = kit.log_move(p3_live.move)(p3_moves())  # the first entry is the starting point, not a move
    p3_log(_log)
    ui.workbench(mo, p3, p3_controls, p3_live, max(len(_log) - 1, 0))
    return (p3_live,)


@app.cell
def _(mo, p3, p3_check, p3_kept, p3_moves, ui, unlocked):
    mo.stop(p3_kept() is None and not unlocked)
    mo.vstack([ui.moves_table(mo, p3, p3_moves()[1:]), p3_check])
    return


@app.cell
def _(mo, p3, p3_check, p3_controls, p3_kept, p3_moves, ui):
    mo.stop(not p3_check.value)
    with mo.status.spinner(title="Solving the puzzle and grading your moves ..."):
        p3_checked = p3.check(p3_moves()[1:], p3_controls.value)
    ui.check_view(mo, p3, p3_checked, p3_kept())
    return (p3_checked,)


@app.cell
def _(mo, p3, p3_kept, p3_peek, p3_reflect, p3_reveal, ui, unlocked):
    mo.stop(p3_kept() is None and not unlocked)
    mo.vstack([ui.reflection_view(mo, p3, p3_reflect, p3_reveal), ui.peek_view(mo, p3, p3_peek)])
    return


if __name__ == "__main__":
    app.run()
