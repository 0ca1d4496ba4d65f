"""The words every fleet form of the synchronisation audit shares (edge, mobile, tiny): how often to synchronise
(the sync-period sweep read from its rows), whether to wait for the slowest device, drop the late ones or go
asynchronous, what the aggregator checkpoints, what a ring round loses to a failing device, and the fleet
audit's assumptions and formulas. The per-track crises are answered in fleet_tracks.py, the numbers and the
narration's assembly in fleet.py.
"""

from __future__ import annotations

import math

from explorer.puzzles.sync.audit import SECONDS_PER_DAY, SECONDS_PER_HOUR, Audit, straggler_text
from explorer.report import Assumption, Finding, Formula
from explorer.units import human_bytes as hbytes
from explorer.units import human_number as num
from explorer.units import human_percent as pct
from explorer.units import human_sci, plural


def _span(seconds: float) -> str:
    from explorer.puzzles.fleet3d.report import span

    return span(seconds)


def _period_verdict(sweep: list[dict]) -> str:
    """What the sync-period sweep shows, read from its rows (the rest of the optimum fixed). Rounds to the target
    are R = T / H with T the Koloskova et al. 2020 bound (federated.iterations_bound): every term of R is
    non-increasing in H, so rounds never rise, but T's local-step terms (sqrt(B) z tau/p, sqrt(B tau/(p b)), tau/p)
    grow with H, so R falls less than in proportion and levels off (R x H, the local steps, rises); each round's
    H local steps, and the deadline on them, take longer as H grows. The time to the target (those rounds, spread
    over the days the window and the energy budget allow) is least where the two balance, which may be an end
    of the range swept: said as the rows have it, not as a minimum every setting has (without the local-step
    terms R = B/(n b H) and R x round time would fall all the way to the largest H)."""
    ok = [r for r in sweep if r["feasible"]]
    if not ok:
        return "No sync period in the range is allowed here."
    first, last = ok[0], ok[-1]
    best = min(ok, key=lambda r: r["days"])
    h0, h1 = first["local_steps"], last["local_steps"]
    if len(ok) == 1:
        return f"Only H = {h0} is allowed here: its time to the target is the one above."
    steps0, steps1 = first["rounds"] * h0, last["rounds"] * h1
    rounds = (f"Rounds fall as H grows ({num(first['rounds'])} at H = {h0} -> {num(last['rounds'])} at H = {h1})"
              if last["rounds"] < first["rounds"] else
              f"Rounds stay at {num(first['rounds'])} from H = {h0} to H = {h1}")
    text = (f"{rounds}, less than in proportion to H: the Koloskova et al. 2020 bound's local-step terms (client "
            f"drift z tau/p, sqrt(tau/(p b)) and tau/p) grow with H, so the local steps to the target, rounds x H, "
            f"{'rise' if steps1 > steps0 else 'fall'} ({num(steps0)} -> {num(steps1)}); and each round's H local "
            f"steps, with the deadline on them, take longer ({_span(first['round_time'])} -> "
            f"{_span(last['round_time'])}). ")
    when = _span(best["days"] * SECONDS_PER_DAY)
    time = "The time to the target (those rounds, over the days the window and the energy budget spread them over)"
    if best is first:
        return text + (f"{time} is least at the smallest H swept, H = {h0} ({when}): the fewer rounds never repay "
                       "the longer ones in this range.")
    if best is last:
        return text + (f"{time} is least at the largest H swept, H = {h1} ({when}): the fewer rounds repay the "
                       "longer ones throughout this range (a larger H was not searched).")
    return text + f"{time} is least in between, at H = {best['local_steps']} ({when})."


def _ring_failure(a: Audit, b: dict) -> str:
    """On a path that waits for every member (a ring), the chance that a round loses one: the n devices in it fail
    independently at rate 1 / MTBF (exponential failures, as Young 1974 assumes), so a round of D seconds loses at
    least one with probability 1 - exp(-n D / MTBF). n: the devices taking part (participants x the devices of a
    replica: a split model's two earbuds both hold part of it)."""
    mtbf_h = a.data.get("device_mtbf_h")
    if not b["waits_for_all"] or not mtbf_h:
        return ""
    n = a.nodes * b["participation"]
    p = -math.expm1(-n * b["round_time"] / (mtbf_h * SECONDS_PER_HOUR))
    return (f": with {num(n)} {a.track.device_plural} in each {_span(b['round_time'])} round, each failing once in "
            f"{num(mtbf_h)} h on average, a round loses one with probability 1 - exp(-n D / MTBF) = {pct(p)}")


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _place(fa: dict, p) -> str:
    scn = fa["res"].scenario
    return p.describe(scn.layers, scn.partner_word)


def _emax(a: Audit, k: int) -> float:
    from explorer.cost.stragglers import expected_max

    return expected_max(a.model, k)


def _wait_or_drop(a: Audit, fa: dict) -> Finding:
    b = fa["best"]
    dev, devs = a.track.device_word, a.track.device_plural
    if b["waits_for_all"]:  # an all-reduce path: nobody can be dropped part-way
        return Finding(
            f"Wait for the slowest {dev}, drop the late ones, or go asynchronous?",
            f"Wait, on the path the fleet 3D optimum takes ({b['tier'].name}): a ring all-reduce passes every chunk "
            f"through every member, so it cannot drop a late one part-way; the round waits for the slowest of its "
            f"{num(b['participants'])} replicas, whose {plural(b['local_steps'], 'local step')} take "
            f"{num(b['wait_factor'])}x their mean (order statistics of the sums; one step alone, the slowest of "
            f"{a.nodes:,} {devs} ({straggler_text(a.model.p, a.model.slowdown, a.model.jitter)}) takes "
            f"{num(a.e_max_all / a.e_step)}x the mean). In return every replica is averaged exactly (p = 1). "
            f"{_other_paths(fa['res'])}Asynchronous updates from the whole fleet would be "
            f"{a.staleness:,.0f} updates stale: {_stale_verdict(_fleet_stale(a))}.")
    return Finding(
        f"Wait for the slowest {dev}, drop the late ones, or go asynchronous?",
        f"Drop them. Waiting for the slowest of {a.nodes:,} {devs} "
        f"({straggler_text(a.model.p, a.model.slowdown, a.model.jitter)}) "
        f"stretches every step to {num(a.e_max_all / a.e_step)}x the mean (order "
        f"statistics, the same as lab 05's cloud audit); a deadline at the {pct(b['deadline_quantile'])} quantile "
        f"of a round keeps {num(b['participants'])} replicas per round and drops the rest, and the convergence "
        f"bound charges the fewer participants.{_radio_wait(a, fa)} Asynchronous updates from the whole fleet would "
        f"be {a.staleness:,.0f} updates stale: {_stale_verdict(_fleet_stale(a))}.")


def _radio_wait(a: Audit, fa: dict) -> str:
    """' Over <radio> ...': where one of the fleet's paths runs on a radio whose rate spreads over the devices
    (links.toml throughput_sigma: 5G), how much longer the slowest device's sync takes than the median device's, as
    a round that waits for all of them would wait (explorer/cost/federated.radio_time_expected_max); '' elsewhere."""
    from explorer.cost.federated import radio_time_expected_max

    links = {t.link.key: t.link for t in fa["res"].scenario.tiers if t.link.throughput_sigma > 0}
    return "".join(
        f" Waiting over the {lk.name} is longer still: its rate spreads from {a.track.device_word} to "
        f"{a.track.device_word} (a lognormal of sigma {human_sci(lk.throughput_sigma, 6)}, hardware/data/links.toml "
        f"gives the "
        f"source), "
        f"and the slowest of {a.nodes:,} {a.track.device_plural} syncs in "
        f"{num(radio_time_expected_max(1.0, lk.throughput_sigma, a.nodes))}x the median one's time."
        for lk in links.values())


def _fleet_stale(a: Audit) -> dict:
    """The whole fleet's asynchronous staleness in `_stale_verdict`'s terms (the audit's r and min(1, r / f))."""
    return {"async_progress": a.progress, "lr_fraction": a.data["lr_fraction"],
            "async_progress_at_lr": a.progress_at_lr}


def _other_paths(res) -> str:
    """The paths that could leave late devices out, when the optimum waits for all: a star drops them at a
    deadline (Bonawitz et al. 2019), gossip averages with the neighbours present."""
    graphs = {t.graph for t in res.scenario.tiers}
    ways = (["a star would drop them at a deadline (Bonawitz et al. 2019)"] if "server" in graphs else []) + (
        ["gossip proceeds with the neighbours present"] if graphs & {"gossip_devices", "gossip_pairs"} else [])
    if not ways:
        return ""
    return f"On the other paths {' and '.join(ways)}, but the search found them slower to the target here. "


def _checkpoint_finding(a: Audit, fa: dict) -> Finding:
    ck = fa["server_checkpoint"]
    dev = a.track.device_word
    if ck is None:
        return Finding(
            "Checkpointing: what is saved, and how often?",
            f"No aggregator holds the model: every {dev} carries it and {_a(dev)} that rejoins copies a "
            "neighbour's; a fleet has no global job to restart, so there is no checkpoint interval to tune.")
    return Finding(
        "Checkpointing: what is saved, and how often?",
        f"The aggregator's global model ({hbytes(ck['model_bytes'])}), not the fleet: C = {num(ck['checkpoint_s'])} s "
        f"at {human_sci(a.data['server_checkpoint_gb_per_s'], 6)} GB/s, the aggregator's MTBF "
        f"{num(a.data['server_mtbf_h'])} h, "
        f"Young sqrt(2 C M) = {_span(ck['young_s'])}: save every {ck['every_rounds']:,} round(s) "
        f"({_span(ck['interval_s'])}), never more often than a round. {_a(dev).capitalize()} that fails is dropped "
        "from its round and rejoins with the current global model.")


def _num2(x: float) -> str:
    """A progress fraction to 2 significant figures (0.096, 0.00014), as the cloud audit's findings print r."""
    return num(x, 2)


def _stale_verdict(e: dict) -> str:
    """Asynchronous updates at a staleness against the lab's stability bound, as the cloud audit prices them
    (audit.progress_at_step): within it they keep the lab's step; beyond it the condition, sufficient and not
    necessary, no longer guarantees convergence at that step, and the step that meets it, r x g_max(0), makes
    min(1, r / f) of a synchronous update's progress. Beyond the bound is not "they diverge" (a 4% shortfall had
    been called divergence)."""
    r, f = e["async_progress"], e["lr_fraction"]
    if r >= f:
        return (f"r = {_num2(r)} >= f = {num(f)}, within the lab's stability bound: each keeps the lab's step and a "
                "synchronous update's progress")
    return (f"r = {_num2(r)} < f = {num(f)}, beyond the lab's stability bound (Lian et al. 2015's condition, "
            f"sufficient, not necessary: no guarantee at the lab's step, not a proof of divergence); the step that "
            f"meets it makes min(1, r / f) = {_num2(e['async_progress_at_lr'])} of a synchronous update's progress")


def _assumptions(a: Audit, fa: dict) -> list[Assumption]:
    m, d = a.model, a.data
    where = f"explorer/data/lab05_distributed.toml [{a.track.key}.sync]"
    jit = f"jitter shifted exponential {pct(m.jitter)}" if m.jitter > 0 else "no jitter (a deterministic step)"
    out = [Assumption(f"Step time of one {a.track.device_word}: the cost model's step; "
                      f"{jit}; {straggler_text(m.p, m.slowdown, m.jitter)}; i.i.d. across devices and steps.",
                      f"Dutta et al. 2018 (AISTATS) sec. 3; {where}: " + d["source"])]
    out += _fleet_assumptions(fa["res"])
    c = fa.get("tiny", {}).get("contact")
    if c:
        from explorer.puzzles.fleetlens.common import contact_words

        out.append(Assumption(
            f"This run's contact graph: {c['nodes']} wearers ({a.nodes:,} {a.track.device_plural} in pairs) in a "
            f"{num(c['area_m'])} m x {num(c['area_m'])} m space, {contact_words(c)}. Where the scenario text above "
            "names another number of wearers or range, it describes the track's own fleet and radio; this is the "
            "graph every figure here is computed on.",
            "explorer/cost/gossip.py contact_graph, contact_radius (seeded); "
            f"explorer/data/tracks/{a.track.key}.toml [fleet] area_m, radio_range_m, graph_seed"))
    if fa.get("server_checkpoint"):
        # the scenario's source text is quoted once, above (it had been printed again here, whole)
        out.append(Assumption(
            f"Aggregator: MTBF {human_sci(d['server_mtbf_h'], 6)} h; it checkpoints the global model at "
            f"{human_sci(d['server_checkpoint_gb_per_s'], 6)} GB/s (assumption); no {a.track.device_word} keeps a "
            f"checkpoint of "
            "its own: one that fails is dropped from its round and rejoins with the current global model.",
            f"{where}, quoted under the step time above"))
    return out


def _fleet_assumptions(res) -> list[Assumption]:
    from explorer.puzzles.fleet3d.report import _assumptions as fa

    return fa(res)


FLEET_FORMULAS = [
    Formula("round deadline", "late devices dropped: n = K x phi on time, D = t_sync + t_local x Q_phi(sum of H "
            "steps); a ring all-reduce drops none: n = K, D = t_sync + t_local x E[max over K of the sum of H steps]",
            "Bonawitz et al. 2019 (SysML) sec. 2.2; explorer/cost/stragglers.quantile_of_sum, expected_max_of_sums; "
            "explorer/cost/federated.round_participants"),
    Formula("iterations to the target (a bound)",
            "T/(L F0/eps) = B/(n b) + sqrt(B)(z tau/p + sqrt(tau/(p b))) + tau/p + tau (1 - S/N) z^2 B/S",
            "Koloskova et al. 2020 Theorem 2; Karimireddy et al. 2020 Theorem I", "constants set to 1: ratios only"),
    Formula("gossip consensus rate", "p = 1 - |lambda_2(W)|^2; consensus to eps: ceil(ln eps / ln |lambda_2|)",
            "Koloskova et al. 2020 Assumption 4; Boyd et al. 2006; Lian et al. 2017 (D-PSGD)"),
    Formula("stable staleness (asynchronous SGD)", "r(T) >= f  <=>  T <= sqrt((1 - f)/2)/f",
            "Lian et al. 2015 Theorem 1; not local SGD's local steps, which take fresh gradients (Stich 2019)"),
    Formula("battery drain", "P = (P_soc t_step + E_exchange)/(t_step + t_exchange); E = bits x J/bit",
            "explorer/cost/energy.py; hardware/data/links.toml"),
    Formula("server checkpoint", "every max(1, floor(sqrt(2 C M) / round)) rounds", "Young 1974"),
]
