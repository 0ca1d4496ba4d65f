"""Lab 05 part 1 on a fleet: the communication wall of federated rounds.

On a fleet, more devices do not shorten one synchronous step: they put more replicas into each round's
average. The iterations to the target fall only in the bound's B/(n b) term (Koloskova et al. 2020 Theorem 2;
client sampling: Karimireddy et al. 2020); the local-drift and consensus terms and the rounds' length do not
shrink with n, and the aggregator's network moves every selected replica's model. The fleet's time to the
target at N devices is the fleet form of lab 05 part 2 solved for a fleet of N (its best participants,
deadline, local steps and path at that size), with the bound's scale fixed by the track's reference run.
"""

from __future__ import annotations

from explorer.errors import InfeasibleError
from explorer.puzzles.fleetlens.common import View, days, optimum, ratio_words
from explorer.report import Figure, Finding, Formula, Table
from explorer.units import human_number as num


def _grid(n_from: int, n_to: int, fleet: int, even: bool) -> list[int]:
    pts = {n_from, n_to, fleet}
    n = n_from
    while n < fleet:
        pts.add(n)
        n *= 4
    return sorted(x for x in pts if x <= fleet and (not even or x % 2 == 0) and x >= 2)


def scaling(rep, res) -> View:
    scn = res.scenario
    t = scn.track
    devs = t.device_plural
    even = scn.partner_word == "other earbud"
    n_from = int(rep.scenario.get("n_from") or 8)
    n_to = int(rep.scenario.get("n_to") or 64)
    rows, by_n = [], {}
    for n in _grid(n_from, n_to, scn.devices, even):
        try:
            r = optimum(t.key, None if n == scn.devices else n)
        except InfeasibleError:  # a fleet too small for any round is a row, not a crash
            rows.append([n, "no feasible round", "", "", "", ""])
            by_n[n] = None
            continue
        b = r.best
        by_n[n] = b
        rows.append([n, round(b["days"], 4), round(b["participants"], 1), b["local_steps"], b["tier"].short,
                     round(b["rounds"])])
    a, z = by_n.get(n_from), by_n.get(n_to)
    figures = {}
    if a is not None and z is not None:
        sp = a["days"] / z["days"]
        head = (f"On the fleet, {n_from} -> {n_to} {devs} {ratio_words(a['days'], z['days'])} "
                f"({days(a['days'])} -> {days(z['days'])}; ideal {num(n_to / n_from)}x), federated rounds at each "
                f"size's best participants, deadline, local steps and path; the whole fleet of {scn.devices:,}: "
                f"{days(res.best['days'])}.")
        figures = {
            "fleet_speedup": Figure(sp, "x", f"{n_from} -> {n_to} {devs}: speedup to the training target"),
            "fleet_efficiency": Figure(sp / (n_to / n_from), "fraction",
                                       f"fleet scaling efficiency, {n_from} -> {n_to}"),
        }
        why = (f"{n_from} {devs}: {days(a['days'])} ({num(a['rounds'])} rounds, {num(a['participants'])} replicas "
               f"averaged per round, {a['local_steps']} local step{'s' if a['local_steps'] > 1 else ''}); "
               f"{n_to}: {days(z['days'])} ({num(z['rounds'])} "
               f"rounds, {num(z['participants'])} replicas). More {devs} put more replicas into a round's average, "
               "which shrinks only the bound's noise term B/(n b); the client-drift and consensus terms (tau/p, "
               "sqrt(B) z tau/p) and the round's length do not shrink with n (Koloskova et al. 2020 Theorem 2), so "
               f"the time falls by {num(sp)}x, not {num(n_to / n_from)}x.")
    else:
        head = f"On the fleet, {n_from} or {n_to} {devs} cannot run a round within the fleet's limits."
        why = head
    best_n = [(n, b["days"]) for n, b in by_n.items() if b is not None]
    walls = [(n0, n1) for (n0, d0), (n1, d1) in zip(best_n, best_n[1:]) if d0 / d1 < 1.1]
    wall = (f"Growing the fleet from {walls[0][0]:,} to {walls[0][1]:,} {devs} buys less than 1.1x" if walls else
            "Every step of the table still buys at least 1.1x")
    findings = [
        Finding(f"On the fleet: does going from {n_from} to {n_to} {devs} cut the time to the target by "
                f"{num(n_to / n_from)}x?", why),
        Finding("Where do returns diminish on the fleet?",
                f"{wall} (time to the target by fleet size in the table below): the communication wall of a "
                "fleet is the bound's terms that more replicas do not shrink, the rounds a day its window and "
                "battery allow, and the aggregator's network, not a ring all-reduce's latency."),
    ]
    tables = {"fleet_scaling": Table(["devices", "days to target", "replicas per round", "local steps", "path",
                                      "rounds"], rows, "Time to the target by fleet size (fleet 3D optimum at each N)")}
    formulas = [Formula("iterations to the target (a bound)", "B/(n b) + sqrt(B)(z tau/p + sqrt(tau/(p b))) + tau/p "
                        "+ tau (1 - S/N) z^2 B/S", "Koloskova et al. 2020 Theorem 2; Karimireddy et al. 2020 Theorem I",
                        "an upper bound; only its n-dependence and ratios are read")]
    return View(head, findings, figures, tables=tables, formulas=formulas,
                extra={"scaling": {str(n): (None if b is None else b["days"]) for n, b in by_n.items()}})
