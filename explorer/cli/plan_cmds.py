"""`explore plan` and `explore check`: thin layers over explorer.planner."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from explorer import validation as V
from explorer.cli import main
from explorer.cli.common import (
    FRAMEWORK_KEYS,
    SHAPE_KEYS,
    STACK_KEYS,
    choice,
    framework_options,
    shape_options,
    stack_options,
)
from explorer.errors import ExplorerError, InfeasibleError

FINITE = V.Real()  # ASCII digits, finite; each value's range is checked where it is used (explorer.planner)

if TYPE_CHECKING:
    from explorer.planner.inputs import ModelChoice, RunAssumptions

# the verdicts of `explore check` that --strict accepts (exit 0); any other (inconsistent, impossible, beyond the
# model) exits 1, as `explore validate --strict` does when a target is missed
CHECK_PASSES = ("consistent", "nothing to test")


class ClaimRejected(ExplorerError):
    """--strict and the claim's verdict is neither 'consistent' nor 'nothing to test' (exit 1)."""


def model_options(f: Callable) -> Callable:
    """--model NAME | --params N | a custom shape (explorer.cli.common.shape_options)."""
    f = shape_options(f)
    f = click.option("--params", type=FINITE, default=None,
                     help="A parameter count (e.g. 100e9): a Llama-3-style shape is derived and shown.")(f)
    return click.option("--model", default=None, help="Model name from the catalog (e.g. llama3_405b).")(f)


def resolve(kw: dict) -> ModelChoice:
    """Pop the model options from a command's keyword arguments and resolve them."""
    from explorer.planner.inputs import resolve_model

    shape = {k: kw.pop(k) for k in SHAPE_KEYS}
    return resolve_model(kw.pop("model"), kw.pop("params"), shape)


def assumption_options(f: Callable) -> Callable:
    opts = [
        click.option("--price", default=None, help="GPU prices in USD per GPU-hour, e.g. 'h100=2.5,b200=4.8' "
                                                   "(default: explorer/data/training_run.toml, with sources)."),
        click.option("--gpu-mtbf-hours", type=FINITE, default=None,
                     help="Mean GPU-hours between job-stopping failures (default 50,677: Llama 3, 419 in 54 days "
                          "on 16,384 GPUs)."),
        click.option("--restart-s", type=FINITE, default=None, help="Restart time after a failure, s (default 600)."),
        click.option("--storage-write-gbps", type=FINITE, default=None,
                     help="Aggregate checkpoint write bandwidth, GB/s (default 2000: Llama 3's Tectonic)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def assumptions(kw: dict) -> RunAssumptions:
    from explorer.planner.inputs import load_assumptions, parse_prices

    return load_assumptions(prices=parse_prices(kw.pop("price")), gpu_mtbf_hours=kw.pop("gpu_mtbf_hours"),
                            restart_s=kw.pop("restart_s"), storage_write_gbps=kw.pop("storage_write_gbps"))


def cloud_stack_options(f: Callable) -> Callable:
    """stack_options whose --precision help names plan's and check's default: they have no --track and always solve
    the cloud track (explorer.planner: get_track("cloud"), whose workload precision is bf16)."""
    return stack_options(f, precision_default="default bf16, the cloud track's, which plan and check always solve")


def stack(kw: dict) -> dict:
    """The software-stack options of the 3D solves (explorer.cli.common.stack_options, framework_options)."""
    return {k: kw.pop(k) for k in (*STACK_KEYS, *FRAMEWORK_KEYS)}


@main.command("plan")
@model_options
@click.option("--tokens", required=True, help="Training tokens, e.g. 15e12.")
@click.option("--gpu", "gpu_types", default=None,
              help="GPU types allowed, e.g. h100,b200 (default: every type with a price in "
                   "explorer/data/training_run.toml: h100_sxm, h200, a100_80gb, b200).")
@click.option("--gpus", "sizes", default=None,
              help="Cluster sizes available, e.g. 4096,8192,16384 (default: powers of two from 8 to 65,536).")
@click.option("--network", "networks", default=None,
              help="Inter-node networks to consider, e.g. ib_ndr,roce_400g (default: each GPU node's own).")
@click.option("--deadline-days", type=FINITE, default=None, help="Train within this many days.")
@click.option("--budget-usd", type=FINITE, default=None, help="Spend at most this many dollars.")
@click.option("--objective", type=choice(["cost", "time"]), default="cost", show_default=True,
              help="cost: the cheapest plan that meets the constraints; time: the fastest.")
@click.option("--global-batch", type=V.GLOBAL_BATCH, default=None,
              help="Sequences per step (default 2048, Llama 3 405B's).")
@click.option("--seq-len", type=V.SEQ_LEN, default=None,
              help="Sequence length (default 8192, or the model's context if shorter).")
@click.option("--max-bubble", type=FINITE, default=0.10, show_default=True,
              help="Largest pipeline bubble fraction, in [0, 1] (0.1 is 10%).")
@click.option("--time-limit", type=V.TIME_LIMIT, default=None, help="CP-SAT time limit per candidate, s (default 30).")
@cloud_stack_options
@framework_options
@assumption_options
@click.option("--format", "fmt", type=choice(["text", "json"]), default="text", show_default=True)
def plan_cmd(**kw) -> None:
    """Cheapest or fastest (GPU type, count, network, 3D plan) among the candidates searched (default: every
    priced GPU type x GPU counts 8-65,536 in powers of two x each node's own network) to train a model on a token
    budget, with goodput under failures and checkpoints, time to train and GPU rental dollars."""
    from explorer.planner.inputs import count, parse_list
    from explorer.planner.run import plan_training

    model = resolve(kw)
    prices = kw["price"]
    a = assumptions(kw)
    tokens = parse_list("--tokens", kw["tokens"], float)
    if len(tokens) != 1:
        raise click.UsageError("--tokens takes one number, e.g. 15e12")
    gpu_types = None if kw["gpu_types"] is None else parse_list("--gpu", kw["gpu_types"])
    if gpu_types is not None:  # the default types are those with a price: a --price of another is unused
        _refuse_prices_of_other_gpus(prices, gpu_types)
    else:
        from explorer.planner.run import default_gpu_types

        _refuse_prices_of_other_gpus(prices, default_gpu_types())
    # an option given with nothing in it ('--gpus ""') is refused by plan_training, not taken for the default
    p = plan_training(model, tokens[0], gpu_types=gpu_types,
                      sizes=None if kw["sizes"] is None else parse_list("--gpus", kw["sizes"], count),
                      networks=None if kw["networks"] is None else parse_list("--network", kw["networks"]),
                      deadline_days=kw["deadline_days"],
                      budget_usd=kw["budget_usd"], objective=kw["objective"], global_batch=kw["global_batch"],
                      seq_len=kw["seq_len"], max_bubble=kw["max_bubble"], time_limit=kw["time_limit"], assumptions=a,
                      stack=stack(kw))
    click.echo(json.dumps(p.to_dict(), indent=2, allow_nan=False) if kw["fmt"] == "json" else p.to_text(), nl=False)
    if kw["fmt"] == "json":
        click.echo()
    if p.best is None:
        raise InfeasibleError("no candidate meets the constraints (see the table above)" if kw["fmt"] == "text" else
                              "no candidate meets the constraints (each candidate's \"reason\" in the JSON says "
                              "why)")


def _refuse_prices_of_other_gpus(prices: str | None, gpu_types: list[str]) -> None:
    """A --price for a GPU type the plan does not consider would be silently unused: refuse it."""
    from explorer.errors import UsageError
    from explorer.hardware.catalog import get_accelerator
    from explorer.planner.inputs import parse_prices

    keys = {get_accelerator(g).key for g in gpu_types}
    for name in parse_prices(prices):
        if get_accelerator(name).key not in keys:
            raise UsageError(f"--price {name}: {name} is not among the GPU types of --gpu "
                             f"({', '.join(gpu_types) or 'none'}); price only those, or add {name} to --gpu")


@main.command("check")
@model_options
@click.option("--gpu", required=True, help="GPU type of the claim, e.g. h100.")
@click.option("--gpus", type=V.DEVICES, required=True, help="Number of GPUs of the claim.")
@click.option("--network", default=None, help="Inter-node network (default: the GPU node's own).")
@click.option("--tokens-per-s", type=FINITE, default=None, help="Claimed throughput of the whole cluster.")
@click.option("--tokens-per-s-per-gpu", type=FINITE, default=None, help="Claimed throughput per GPU.")
@click.option("--step-time", type=FINITE, default=None, help="Claimed step time, s (needs --global-batch).")
@click.option("--global-batch", type=V.GLOBAL_BATCH, default=None,
              help="Sequences per step (for --step-time, and the batch of the model's bound; default 2048).")
@click.option("--mfu", type=FINITE, default=None, help="Claimed MFU as a fraction in (0, 1] (0.45 is 45%).")
@click.option("--memory-gb", type=V.MEMORY_GB, default=None, help="Claimed memory per GPU, GB.")
@click.option("--seq-len", type=V.SEQ_LEN, default=None,
              help="Sequence length (default 8192, or the model's context if shorter).")
@click.option("--tolerance", type=FINITE, default=0.10, show_default=True,
              help="Relative difference still called agreement, a fraction in (0, 1) (0.1 is 10%).")
@click.option("--no-bound", is_flag=True, help="Skip the 3D solve of the model's bound (arithmetic only).")
@click.option("--time-limit", type=V.TIME_LIMIT, default=None, help="CP-SAT time limit for the bound, s.")
@cloud_stack_options
@framework_options
@click.option("--format", "fmt", type=choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True,
              help="Exit with status 1 if the verdict is inconsistent, impossible or beyond the model (anything but "
                   "consistent or nothing to test); the report is printed first.")
def check_cmd(**kw) -> None:
    """Test a claim (throughput, step time, MFU, memory) against arithmetic and the cost model.

    Exit status 0 whatever the verdict, unless --strict: then 1 when the verdict is neither 'consistent' nor
    'nothing to test'."""
    from explorer.planner.check import check_claim
    from explorer.planner.inputs import load_assumptions

    model = resolve(kw)
    r = check_claim(model, gpu=kw["gpu"], gpus=kw["gpus"], assumptions=load_assumptions(),
                    tokens_per_s=kw["tokens_per_s"], tokens_per_s_per_gpu=kw["tokens_per_s_per_gpu"],
                    step_time_s=kw["step_time"], global_batch=kw["global_batch"], mfu=kw["mfu"],
                    memory_gb=kw["memory_gb"], seq_len=kw["seq_len"], network=kw["network"],
                    tolerance=kw["tolerance"], bound=not kw["no_bound"], time_limit=kw["time_limit"],
                    stack=stack(kw))
    if kw["fmt"] == "json":
        click.echo(json.dumps(r.to_dict(), indent=2, allow_nan=False))
    else:
        click.echo(r.to_text(), nl=False)
    if kw["strict"] and r.verdict not in CHECK_PASSES:
        raise ClaimRejected(f"verdict {r.verdict!r}: --strict accepts only {' or '.join(map(repr, CHECK_PASSES))} "
                            f"(see the report above)")

