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


def _per_round(b) -> float:
    """Seconds of the time to the target per round: the round itself, or with its share of the hours outside the
    daily window when the rounds do not fit one window."""
    return b["days"] * 86400.0 / b["rounds"]


def _by(r: float) -> str:
    """A ratio as 'x' where it reads (1.42x), as a percentage where 'x' would round to 1x (0.11%)."""
    r = max(r, 1.0 / r)
    return f"{num(r)}x" if r >= 1.05 else f"{num((r - 1.0) * 100.0)}%"


def _pair(x0: float, x1: float) -> str:
    """'1,055 -> 745', with a decimal more where the two would print alike (483.9 -> 484.4, not 484 -> 484)."""
    if num(x0) != num(x1):
        return f"{num(x0)} -> {num(x1)}"
    return f"{x0:,.{max(1, 3 - len(str(int(abs(x1)))))}f} -> {x1:,.{max(1, 3 - len(str(int(abs(x1)))))}f}"


def _why_step(n0: int, b0, n1: int, b1, brief: bool = False) -> str:
    """Why the time to the target moves from n0 to n1 devices: the rounds to the target and the length of a round,
    each with the cause its own figures show (both are read from the two optima, never assumed)."""
    r0, r1, t0, t1 = b0["rounds"], b1["rounds"], _per_round(b0), _per_round(b1)
    s0, s1 = b0["participants"] / n0, b1["participants"] / n1
    parts = []
    if r1 > r0 * 1.001:
        if s1 < s0 * 0.999:
            cause = (f"S/N {num(s0)} -> {num(s1)}" if brief else
                     f"a round samples a smaller share of the fleet, S/N {num(s0)} -> {num(s1)}, and the bound's "
                     "client-sampling term tau (1 - S/N) z^2 B/S grows with it")
            cap = b1["round_time"] / (b1["server_time"] / b1["participants"])
            if b1["tier"].server_bytes_per_s > 0 and b1["participants"] >= 0.95 * cap:
                cause += (f", the aggregator carrying at most {num(cap)} models a round" if brief else
                          f"; the aggregator's network moves at most {num(cap)} models in a round of "
                          f"{num(b1['round_time'])} s, so the replicas per round cannot grow with the fleet")
        elif b1["participants"] < b0["participants"]:
            cause = f"fewer replicas are averaged per round ({num(b0['participants'])} -> {num(b1['participants'])})"
        else:
            cause = f"the best plan at that size runs {b1['local_steps']} local steps, not {b0['local_steps']}"
        parts.append(f"the rounds to the target rise {_by(r1 / r0)} ({_pair(r0, r1)}: {cause})")
    elif r1 < r0 / 1.001:
        parts.append(f"the rounds to the target fall {_by(r0 / r1)} ({_pair(r0, r1)})")
    else:
        parts.append(f"the rounds to the target stay at {num(r1)}")
    if t1 > t0 * 1.001:
        if b1["tier"].graph.startswith("ring"):
            cause = (f"ring sync {num(b0['t_sync'])} s -> {num(b1['t_sync'])} s" if brief else
                     f"the ring's sync runs 2(k - 1) steps over its k members, {num(b0['t_sync'])} s -> "
                     f"{num(b1['t_sync'])} s, and the round waits for the slowest of more members")
        elif b1["server_bound"]:
            cause = "the aggregator's network, moving every selected model, sets the round"
        else:
            sync = (f"sync {num(b0['t_sync'])} s -> {num(b1['t_sync'])} s" if abs(b1["t_sync"] - b0["t_sync"])
                    > 1e-3 * b0["t_sync"] else f"the same {num(b1['t_sync'])} s sync")
            cause = sync
            if b1["local_steps"] != b0["local_steps"]:
                cause += f"; {b0['local_steps']} -> {b1['local_steps']} local steps"
            if b1["deadline_quantile"] != b0["deadline_quantile"]:
                cause += (f"; the round closing at the {num(100 * b0['deadline_quantile'])}% -> "
                          f"{num(100 * b1['deadline_quantile'])}% quantile of a device's local steps")
        parts.append(f"a round takes {_by(t1 / t0)} longer ({_pair(t0, t1)} s: {cause})")
    elif t1 < t0 / 1.001:
        parts.append(f"a round is {_by(t0 / t1)} shorter ({_pair(t0, t1)} s)")
    else:
        parts.append(f"a round stays at {num(t1)} s")
    return " and ".join(parts)


def _change(before: float, after: float, noun: str = "time to the target") -> str:
    """The time's move in words whose direction matches the figures: 'falls 1.12x' or 'rises 1.76x'."""
    if after <= before:
        return f"the {noun} falls {_by(before / after)}"
    return f"the {noun} rises {_by(after / before)}"


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
        # replicas per round unrounded (K x phi is 7.92 at 8 devices: a table's '7.900' from a rounded 7.9 said
        # a figure that is not the narration's)
        rows.append([n, round(b["days"], 4), round(float(b["participants"]), 6), b["local_steps"], b["tier"].short,
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
               "sqrt(B) z tau/p) and the round's length do not shrink with n (Koloskova et al. 2020 Theorem 2). "
               f"Here {_why_step(n_from, a, n_to, z)}, so {_change(a['days'], z['days'])}, where the ideal would "
               f"cut it {num(n_to / n_from)}x.")
    else:
        head = f"On the fleet, {n_from} or {n_to} {devs} cannot run a round within the fleet's limits."
        why = head
    best_n = [(n, b) for n, b in by_n.items() if b is not None]
    steps = list(zip(best_n, best_n[1:]))
    walls = [(n0, b0, n1, b1) for (n0, b0), (n1, b1) in steps if b0["days"] / b1["days"] < 1.1]
    if walls:
        n0, b0, n1, b1 = walls[0]
        gain = b0["days"] / b1["days"]
        wall = f"Growing the fleet from {n0:,} to {n1:,} {devs} " + (
            f"cuts the time to the target by only {_by(gain)} ({days(b0['days'])} -> {days(b1['days'])}), under "
            "1.1x" if gain >= 1 else
            f"makes the time to the target {_by(1 / gain)} longer ({days(b0['days'])} -> {days(b1['days'])}: "
            f"{_why_step(n0, b0, n1, b1)})")
    else:
        wall = "Every step of the table still cuts the time to the target by at least 1.1x"
    worse = [(n0, b0, n1, b1) for n0, b0, n1, b1 in walls[1 if walls and walls[0][3]["days"] > walls[0][1]["days"]
                                                                else 0:] if b1["days"] > b0["days"]]
    if worse:
        wall += "; it rises " + ("again " if walls[0][3]["days"] > walls[0][1]["days"] else "") + "; ".join(
            f"from {n0:,} to {n1:,} by {_by(b1['days'] / b0['days'])} ({_why_step(n0, b0, n1, b1, brief=True)})"
            for n0, b0, n1, b1 in worse)
    rings = [b for _, b in best_n if b["tier"].graph.startswith("ring")]
    servers = [b for _, b in best_n if b["tier"].server_bytes_per_s > 0]
    walls_of = ["the bound's terms that more replicas do not shrink (the drift and consensus terms, and the "
                "client-sampling term tau (1 - S/N) z^2 B/S that grows as a round samples a smaller share: each "
                "size's target is the average loss over its own fleet's data)",
                "the rounds a day its window and battery allow"]
    if rings:
        walls_of.append("the ring's sync, whose 2(k - 1) steps grow with its members, and the wait for its slowest "
                        "member")
    if servers:
        walls_of.append("the aggregator's network, which moves every selected replica's model")
    wall_text = (f"{wall} (time to the target by fleet size in the table below). The communication wall of this "
                 f"fleet is {', '.join(walls_of[:-1])} and {walls_of[-1]}.")
    findings = [
        Finding(f"On the fleet: does going from {n_from} to {n_to} {devs} cut the time to the target by "
                f"{num(n_to / n_from)}x?", why),
        Finding("Where do returns diminish on the fleet?", wall_text),
    ]
    tables = {"fleet_scaling": Table(["devices", "days to target", "replicas per round", "local steps", "path",
                                      "rounds"], rows, "Time to the target by fleet size (fleet 3D optimum at each N)")}
    formulas = [Formula("iterations to the target (a bound)", "B/(n b) + sqrt(B)(z tau/p + sqrt(tau/(p b))) + tau/p "
                        "+ tau (1 - S/N) z^2 B/S", "Koloskova et al. 2020 Theorem 2; Karimireddy et al. 2020 Theorem I",
                        "an upper bound; only its n-dependence and ratios are read")]
    return View(head, findings, figures, tables=tables, formulas=formulas,
                extra={"scaling": {str(n): (None if b is None else b["days"]) for n, b in by_n.items()}})
