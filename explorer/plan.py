"""The parallel plan: how one training step is split over the devices (the "execution")."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from explorer.errors import UsageError, require_positive_int, short

RECOMPUTE = ("none", "selective", "full")
ZERO_STAGES = (0, 1, 2, 3)
PRECISIONS = ("fp32", "bf16", "fp16", "fp8")
OPTIMIZERS = ("sgd", "momentum", "adam")
FRAMEWORK_KEYS = ("megatron", "deepspeed", "fsdp")  # explorer/cost/frameworks.py


def check_zero_stage(zero: object, written: object = None) -> int:
    """A ZeRO stage (0-3), else a one-line UsageError naming the value as `written` (default: `zero`): there is no
    ZeRO-4 to be 'outside the searched space' (Rajbhandari et al. 2020). The attempt graders share it."""
    if zero not in ZERO_STAGES:
        raise UsageError(f"zero {short(zero if written is None else written)} is not a ZeRO stage; one of "
                         f"{', '.join(map(str, ZERO_STAGES))}")
    return zero


def check_precision(precision: object) -> None:
    """A training precision spelt as the CLI's --precision choice spells it (lower case), else a one-line UsageError:
    'FP8' is unknown (did you mean 'fp8'?), not a part's missing peak."""
    if precision not in PRECISIONS:
        hint = f" (did you mean {str(precision).lower()!r}?)" if str(precision).lower() in PRECISIONS else ""
        raise UsageError(f"precision {short(precision)} unknown{hint}; valid: {', '.join(PRECISIONS)}")


@dataclass(frozen=True)
class ParallelPlan:
    """TP x CP x PP x DP degrees, micro-batching and memory options for one step.

    micro_batch is in sequences; global_batch = dp x micro_batch x num_micro_batches.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    micro_batch: int = 1
    global_batch: int = 1
    virtual_stages: int = 1
    zero: int = 0
    recompute: str = "none"
    sequence_parallel: bool = True
    framework: str = "megatron"
    hsdp: bool = False

    def __post_init__(self) -> None:
        for f in ("tp", "pp", "dp", "cp", "micro_batch", "global_batch", "virtual_stages"):
            require_positive_int(f.replace("_", "-"), getattr(self, f))
        if self.zero not in ZERO_STAGES:
            raise UsageError(f"zero stage must be one of 0, 1, 2, 3, got {self.zero!r}")
        if self.recompute not in RECOMPUTE:
            raise UsageError(f"recompute {self.recompute!r} unknown; valid: {', '.join(RECOMPUTE)}")
        if self.framework not in FRAMEWORK_KEYS:
            raise UsageError(f"framework {self.framework!r} unknown; valid: {', '.join(FRAMEWORK_KEYS)}")
        if self.global_batch % (self.dp * self.micro_batch):
            raise UsageError(
                f"global batch {self.global_batch} is not divisible by dp x micro-batch = "
                f"{self.dp} x {self.micro_batch} = {self.dp * self.micro_batch}"
            )
        if self.virtual_stages > 1 and self.pp == 1:
            raise UsageError("virtual stages > 1 need pp > 1 (interleaving splits pipeline stages)")

    @property
    def devices(self) -> int:
        return self.tp * self.cp * self.pp * self.dp

    @property
    def num_micro_batches(self) -> int:
        return self.global_batch // (self.dp * self.micro_batch)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["num_micro_batches"] = self.num_micro_batches
        return d

    def describe(self) -> str:
        s = f"TP={self.tp} PP={self.pp} DP={self.dp}"
        if self.cp > 1:
            s += f" CP={self.cp}"
        s += f" mb={self.micro_batch} (x{self.num_micro_batches})"
        if self.virtual_stages > 1:
            s += f" v={self.virtual_stages}"
        s += f" ZeRO-{self.zero}" + (" HSDP" if self.hsdp else "") + f" recompute={self.recompute}"
        if self.tp > 1:
            s += " SP" if self.sequence_parallel else " no-SP"
        return s + f" [{self.framework}]"
