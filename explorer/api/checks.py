"""Checks estimate and solve_3d share before evaluating: the default precision, a framework pin, a fleet
track asked as a datacenter, TP overlap without sequence parallelism."""

from __future__ import annotations

from typing import Any

from explorer.cost.frameworks import framework_choice
from explorer.errors import UsageError
from explorer.hardware.catalog import get_accelerator
from explorer.tracks import Track, get_track


def check_default_precision(track: str | Track, gpu: str | None, precision: str | None) -> None:
    """Before evaluating: with no --precision, the track's default precision (bf16 in the cloud) must be one the
    accelerator has a peak for, else a one-line UsageError that says the precision was the default, not the user's,
    and which --precision values the part takes (the catalog's own message, hardware/catalog.py Accelerator.peak,
    reads as though the user had asked for it). A --gpu the catalog does not know is left to the command's own
    lookup to report (with its 'did you mean')."""
    if precision is not None or gpu is None:
        return
    from explorer.plan import PRECISIONS

    try:
        acc = get_accelerator(gpu)
    except UsageError:
        return
    t = track if isinstance(track, Track) else get_track(track)
    default = t.workload.precision
    if default in acc.peak_flops:
        return
    valid = [p for p in PRECISIONS if p in acc.peak_flops]
    what = (f"give {' or '.join(f'--precision {p}' for p in valid)}" if valid
            else f"it has none of the training precisions {', '.join(PRECISIONS)}")
    raise UsageError(f"the {acc.name} ({acc.key}) has no {default.upper()} peak, and {default} is the default "
                     f"precision (the {t.name} track's, as none was given); {what}")


def _framework_from_pin(options: dict[str, Any]) -> dict[str, Any]:
    """A framework pinned with fix={'framework': ...} is the one searched: it fills an unset framework (the CLI passes
    the pin where --framework was not given) and must agree with a given one (or 'any'), else a usage error naming
    both; the pin is kept under its canonical name (an alias such as torchtitan pins fsdp)."""
    fix = options.get("fix")
    if not isinstance(fix, dict) or fix.get("framework") is None:
        return options
    pinned = framework_choice(str(fix["framework"]))
    if pinned == "any":
        raise UsageError("the pin framework=any pins nothing: give --framework any instead")
    asked = options.get("framework")
    if asked is not None and framework_choice(asked) not in ("any", pinned):
        raise UsageError(f"--framework {asked} contradicts the pin framework={fix['framework']}: drop one of them "
                         f"(or give --framework any with the pin)")
    return {**options, "framework": pinned if asked is None else asked, "fix": {**fix, "framework": pinned}}


def _fleet_as_datacenter(track: str | Track, gpu: str | None, gpus: int | None) -> None:
    """A fleet track (edge, mobile, tiny) with neither gpu nor gpus given: the datacenter 3D puzzle would take the
    whole fleet as one synchronous data-parallel ring reducing every step over its radios (the tiny track's 100
    earbuds as PP=5 DP=10 CP=2 over Bluetooth, 'optimal'), a question no one asked. Refused with the calls that do
    answer it, as explorer.estimate refuses the same; with gpu or gpus the datacenter form is what was asked for
    (the track's model on those devices)."""
    from explorer.puzzles.fleet3d import fleet_phrase, is_fleet

    t = track if isinstance(track, Track) else get_track(track)
    key = t.key
    if gpu is None and gpus is None and is_fleet(key):
        raise UsageError(
            f"{fleet_phrase(key)}, not a datacenter whose ranks reduce every step: explorer.solve('3d', "
            f"track={key!r}) answers its 3D puzzle in the fleet form (a Report; `explore solve 3d --track {key}`); "
            f"explorer.solve_3d takes a fleet track only with gpu (e.g. 'h100': the track's model on datacenter "
            f"hardware) or gpus (that many {t.device_plural} as one synchronous cluster)")


def _overlap_needs_sp(tp_comm_overlap: bool | None, tp: str, sp_off: str) -> None:
    """TP communication overlap asked for (True, not the framework's default None) beside sequence parallelism turned
    off at TP > 1 is a pair no framework runs: Megatron-LM refuses it at start-up (megatron/training/arguments.py:
    'Tensor parallel communication/GEMM overlap can happen only when sequence parallelism is enabled'), and
    torchtitan's AsyncTP micro-pipelines the all-gathers and reduce-scatters that only sequence parallelism runs
    (torchtitan parallelize_llama.py apply_tp). Refused here rather than priced as a plan without the overlap."""
    if tp_comm_overlap:
        raise UsageError(f"--tp-comm-overlap needs sequence parallelism, and {sp_off} turns it off at {tp}: "
                         "Megatron-LM refuses the pair at start-up (TP communication/GEMM overlap only with "
                         "sequence parallelism); drop one of the two")
