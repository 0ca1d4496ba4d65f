"""The lab workbench, one marimo app for labs 05, 06 and 08 (`explore lab 05 --track cloud` opens it).

The lab comes from the command line (`-- --lab 05`) or the page's address (`?lab=05`); its three parts are
explorer.labs.kit.PARTS[lab]. Each part asks for a prediction first, then unlocks the workbench: controls in a
form (each configuration run is one move), the instruments the explorer computes for it, the move counter, "check"
(the solver's optimum and the grader's verdict on your moves), the reflection with the explorer's answer on request,
the math peek. The lock and the moves are kept across reloads in the user's state directory (kit.Saved). All the
numbers and figures come from the explorer (explorer.labs.kit); this file only lays them out. Run as a script:
`python -m explorer.labs.workbench --lab 05 --track edge --export` (every cell, instruments unlocked).
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

    lab_id, lab_parts, _why = lab[:20], None, ""
    try:
        lab_id = lab_key(lab)  # '05' however it was given ('5': marimo's cli_args reads '--lab 05' as the number 5)
        lab_parts = kit.parts(lab_id, track)
    except Exception as _exc:  # an unknown lab or track: one line, no traceback
        _why = str(_exc)
    mo.stop(lab_parts is None, mo.callout(mo.md(f"Cannot open lab {lab_id}: {_why}" if lab_parts is None
                                                else ""), kind="danger"))
    # the locks and moves are kept across reloads (kit.Saved), except on an exported page, which has no kernel
    ui.header(mo, lab_id, TITLES[lab_id], track, unlocked, "" if unlocked else str(kit.state_file(lab_id, track)))
    return lab_id, lab_parts


@app.cell
def _(kit, lab_id, lab_parts, mo, track, ui, unlocked):
    p1 = lab_parts[0]
    p1_saved = kit.Saved(lab_id, track, 1, enabled=not unlocked)  # the lock and moves of an earlier session
    _was = p1_saved.load(p1)
    p1_start = _was["values"] or p1.defaults()
    p1_lock = ui.lock(mo, p1)
    p1_controls = ui.run_form(mo, ui.controls(mo, p1, p1_start))
    p1_check = mo.ui.run_button(label="Check: solve and grade my moves", kind="success")
    p1_reflect = ui.reflection_box(mo)
    p1_reveal = mo.ui.switch(label="Show the explorer's answer")
    p1_peek = mo.ui.switch(label="Math peek")
    p1_kept, p1_keep = mo.state(_was["kept"])
    p1_moves, p1_log = mo.state(_was["moves"])
    return (p1, p1_check, p1_controls, p1_keep, p1_kept, p1_lock, p1_log, p1_moves, p1_peek, p1_reflect,
            p1_reveal, p1_saved, p1_start)


@app.cell
def _(mo, p1, p1_keep, p1_kept, p1_lock, p1_saved, ui):
    if p1_lock.value is not None and p1_kept() is None:
        p1_keep(p1_lock.value)  # the first answer is kept: the lock
        p1_saved.save(kept=p1_lock.value)
    ui.lock_view(mo, p1, p1_lock, p1_kept() or p1_lock.value, p1_saved.error)
    return


@app.cell
def _(mo, p1, p1_controls, p1_kept, p1_log, p1_moves, p1_saved, p1_start, ui, unlocked):
    p1_live, p1_values = ui.run_part(mo, p1, p1_controls, p1_start, p1_moves, p1_log, p1_saved, p1_kept, unlocked)
    return p1_live, p1_values


@app.cell
def _(mo, p1, p1_check, p1_kept, p1_moves, ui, unlocked):
    mo.stop(p1_kept() is None and not unlocked)
    mo.vstack([ui.moves_table(mo, p1, p1_moves()[1:]), p1_check])
    return


@app.cell
def _(mo, p1, p1_check, p1_moves, p1_kept, p1_values, ui):
    mo.stop(not p1_check.value)
    with mo.status.spinner(title="Solving the puzzle and grading your moves ..."):
        p1_checked = p1.check(p1_moves()[1:], p1_values)
    ui.check_view(mo, p1, p1_checked, p1_kept())
    return (p1_checked,)


@app.cell
def _(mo, p1, p1_kept, p1_peek, p1_reflect, p1_reveal, ui, unlocked):
    mo.stop(p1_kept() is None and not unlocked)
    mo.vstack([ui.reflection_view(mo, p1, p1_reflect, p1_reveal), ui.peek_view(mo, p1, p1_peek)])
    return


@app.cell
def _(kit, lab_id, lab_parts, mo, track, ui, unlocked):
    p2 = lab_parts[1]
    p2_saved = kit.Saved(lab_id, track, 2, enabled=not unlocked)  # the lock and moves of an earlier session
    _was = p2_saved.load(p2)
    p2_start = _was["values"] or p2.defaults()
    p2_lock = ui.lock(mo, p2)
    p2_controls = ui.run_form(mo, ui.controls(mo, p2, p2_start))
    p2_check = mo.ui.run_button(label="Check: solve and grade my moves", kind="success")
    p2_reflect = ui.reflection_box(mo)
    p2_reveal = mo.ui.switch(label="Show the explorer's answer")
    p2_peek = mo.ui.switch(label="Math peek")
    p2_kept, p2_keep = mo.state(_was["kept"])
    p2_moves, p2_log = mo.state(_was["moves"])
    return (p2, p2_check, p2_controls, p2_keep, p2_kept, p2_lock, p2_log, p2_moves, p2_peek, p2_reflect,
            p2_reveal, p2_saved, p2_start)


@app.cell
def _(mo, p2, p2_keep, p2_kept, p2_lock, p2_saved, ui):
    if p2_lock.value is not None and p2_kept() is None:
        p2_keep(p2_lock.value)  # the first answer is kept: the lock
        p2_saved.save(kept=p2_lock.value)
    ui.lock_view(mo, p2, p2_lock, p2_kept() or p2_lock.value, p2_saved.error)
    return


@app.cell
def _(mo, p2, p2_controls, p2_kept, p2_log, p2_moves, p2_saved, p2_start, ui, unlocked):
    p2_live, p2_values = ui.run_part(mo, p2, p2_controls, p2_start, p2_moves, p2_log, p2_saved, p2_kept, unlocked)
    return p2_live, p2_values


@app.cell
def _(mo, p2, p2_check, p2_kept, p2_moves, ui, unlocked):
    mo.stop(p2_kept() is None and not unlocked)
    mo.vstack([ui.moves_table(mo, p2, p2_moves()[1:]), p2_check])
    return


@app.cell
def _(mo, p2, p2_check, p2_moves, p2_kept, p2_values, ui):
    mo.stop(not p2_check.value)
    with mo.status.spinner(title="Solving the puzzle and grading your moves ..."):
        p2_checked = p2.check(p2_moves()[1:], p2_values)
    ui.check_view(mo, p2, p2_checked, p2_kept())
    return (p2_checked,)


@app.cell
def _(mo, p2, p2_kept, p2_peek, p2_reflect, p2_reveal, ui, unlocked):
    mo.stop(p2_kept() is None and not unlocked)
    mo.vstack([ui.reflection_view(mo, p2, p2_reflect, p2_reveal), ui.peek_view(mo, p2, p2_peek)])
    return


@app.cell
def _(kit, lab_id, lab_parts, mo, track, ui, unlocked):
    p3 = lab_parts[2]
    p3_saved = kit.Saved(lab_id, track, 3, enabled=not unlocked)  # the lock and moves of an earlier session
    _was = p3_saved.load(p3)
    p3_start = _was["values"] or p3.defaults()
    p3_lock = ui.lock(mo, p3)
    p3_controls = ui.run_form(mo, ui.controls(mo, p3, p3_start))
    p3_check = mo.ui.run_button(label="Check: solve and grade my moves", kind="success")
    p3_reflect = ui.reflection_box(mo)
    p3_reveal = mo.ui.switch(label="Show the explorer's answer")
    p3_peek = mo.ui.switch(label="Math peek")
    p3_kept, p3_keep = mo.state(_was["kept"])
    p3_moves, p3_log = mo.state(_was["moves"])
    return (p3, p3_check, p3_controls, p3_keep, p3_kept, p3_lock, p3_log, p3_moves, p3_peek, p3_reflect,
            p3_reveal, p3_saved, p3_start)


@app.cell
def _(mo, p3, p3_keep, p3_kept, p3_lock, p3_saved, ui):
    if p3_lock.value is not None and p3_kept() is None:
        p3_keep(p3_lock.value)  # the first answer is kept: the lock
        p3_saved.save(kept=p3_lock.value)
    ui.lock_view(mo, p3, p3_lock, p3_kept() or p3_lock.value, p3_saved.error)
    return


@app.cell
def _(mo, p3, p3_controls, p3_kept, p3_log, p3_moves, p3_saved, p3_start, ui, unlocked):
    p3_live, p3_values = ui.run_part(mo, p3, p3_controls, p3_start, p3_moves, p3_log, p3_saved, p3_kept, unlocked)
    return p3_live, p3_values


@app.cell
def _(mo, p3, p3_check, p3_kept, p3_moves, ui, unlocked):
    mo.stop(p3_kept() is None and not unlocked)
    mo.vstack([ui.moves_table(mo, p3, p3_moves()[1:]), p3_check])
    return


@app.cell
def _(mo, p3, p3_check, p3_moves, p3_kept, p3_values, ui):
    mo.stop(not p3_check.value)
    with mo.status.spinner(title="Solving the puzzle and grading your moves ..."):
        p3_checked = p3.check(p3_moves()[1:], p3_values)
    ui.check_view(mo, p3, p3_checked, p3_kept())
    return (p3_checked,)


@app.cell
def _(mo, p3, p3_kept, p3_peek, p3_reflect, p3_reveal, ui, unlocked):
    mo.stop(p3_kept() is None and not unlocked)
    mo.vstack([ui.reflection_view(mo, p3, p3_reflect, p3_reveal), ui.peek_view(mo, p3, p3_peek)])
    return


if __name__ == "__main__":
    app.run()
