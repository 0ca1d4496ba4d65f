"""The dataloader puzzle's grading (reports/attempts.py): an attempt is a (workers, devices) pair, graded on
the throughput it delivers, starved or not, with the same integer constraints as the searches."""

from __future__ import annotations

from typing import Any

from explorer.cost import input_pipeline as ip
from explorer.errors import UsageError, require_positive_int
from explorer.puzzles.dataloader.model import OBJECTIVE_NAME, fed, objective, second
from explorer.puzzles.dataloader.scenario import make_instance
from explorer.report import Constraint, Figure
from explorer.units import plural_noun

ATTEMPT_OPTIONS = ("workers", "devices", "augment_ms", "compute_ms", "sample_bytes", "storage_gbps", "batch",
                   "dataset_samples")
ATTEMPT_VARIABLES = ["workers", "devices"]
ATTEMPT_KINDS = {"workers": "count", "devices": "count"}
MAX_ATTEMPTS: int | None = 5  # the lab's 5-move rule


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    inst = make_instance(track, **options)
    try:
        w, n = int(float(values["workers"])), int(float(values["devices"]))
    except KeyError as exc:
        raise UsageError(f"attempt is missing {exc.args[0]!r}; columns: workers, devices") from None
    except (TypeError, ValueError):
        raise UsageError(f"workers and devices must be whole numbers, got {values!r}") from None
    require_positive_int("workers", w)
    require_positive_int("devices", n)
    p = inst.pipeline(w, n)
    ok = fed(inst, w, n)
    r = ip.stage_rates(p)
    demand = r["compute"]
    per_device = {"prep keeps up": r["prep"], "storage keeps up": inst.storage_bandwidth / inst.sample_bytes,
                  "host-to-device keeps up": n * inst.h2d_bandwidth / inst.sample_bytes}
    viol = [Constraint(k, per_device[k], demand, "samples/s", ">=", text="compute is starved")
            for k, v in ok.items() if not v]
    if w > inst.max_workers:
        viol.append(Constraint("workers", w, inst.max_workers, "", "<="))
    if n > inst.max_devices:
        viol.append(Constraint("devices", n, inst.max_devices, "", "<="))
    util = ip.utilisation(p)
    figs = {"throughput": Figure(ip.throughput(p), "samples/s", "pipeline throughput")}
    figs.update({f"utilisation_{s}": Figure(util[s], "fraction", f"{s} busy") for s in ip.STAGES})
    if not p.shared_core:  # (one core has one worker: make_instance)
        # the graded figure is the throughput, which more workers than feed the devices leave unchanged: said beside it
        figs["fewest_workers"] = Figure(ip.workers_to_feed(n, inst.compute_s, inst.augment_s), "workers",
                                        f"fewest workers that feed its {plural_noun(inst.track.device_word)}")
    neighbours = [{"workers": w + dw, "devices": n + dn} for dw, dn in ((-1, 0), (1, 0), (0, -1), (0, 1))
                  if w + dw >= 1 and n + dn >= 1]
    if "fewest_workers" in figs and int(figs["fewest_workers"].value) < w - 1:  # straight to the fewest that feed
        neighbours.append({"workers": int(figs["fewest_workers"].value), "devices": n})
    return {"feasible": not viol, "figures": figs, "violations": viol, "objective": objective(inst, w, n),
            "objective_name": OBJECTIVE_NAME, "sense": "max", "neighbours": neighbours, "second": second(w),
            "objective_measured": True}  # the samples/s it delivers, starved or not (reports.attempts: no 'if')
