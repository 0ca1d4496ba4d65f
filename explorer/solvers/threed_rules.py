"""What the 3D solvers are handed by the puzzle that calls them: solvers do not import puzzles (the README's "How
it is built": catalogs -> cost model -> puzzles -> solvers -> reports).

The 3D puzzle (explorer/puzzles/threed) owns its instance, its design space and the rules a configuration must meet
(they are the puzzle's variables and constraints); CP-SAT (threed_cpsat) and the exhaustive evaluator
(threed_enumerate) search that space under those rules, which the puzzle passes in as `rules`: its module
explorer.puzzles.threed.space, whose functions of the same names satisfy ThreeDRules. The protocols below name
exactly what the solvers read, nothing more (tests/test_layering.py keeps explorer/solvers free of puzzle imports).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost.setup import Setup


class ThreeDInstance(Protocol):
    """The instance attributes the solvers read (explorer.puzzles.threed.space.Instance)."""

    @property
    def setup(self) -> Setup: ...
    @property
    def devices(self) -> int: ...
    @property
    def global_batch(self) -> int: ...
    @property
    def max_bubble(self) -> Fraction: ...
    @property
    def fix(self) -> dict: ...  # pinned values by variable name (--fix)
    @property
    def limit(self) -> int: ...  # memory per device, bytes


class ThreeDSpace(Protocol):
    """The candidate values of every variable (explorer.puzzles.threed.space.Space); rc, fw: integer codes."""

    @property
    def tp(self) -> list[int]: ...
    @property
    def cp(self) -> list[int]: ...
    @property
    def pp(self) -> list[int]: ...
    @property
    def v(self) -> list[int]: ...
    @property
    def mb(self) -> list[int]: ...
    @property
    def zero(self) -> list[int]: ...
    @property
    def rc(self) -> list[int]: ...
    @property
    def sp(self) -> list[int]: ...
    @property
    def fw(self) -> list[int]: ...
    @property
    def hsdp(self) -> list[int]: ...


class ThreeDRules(Protocol):
    """The puzzle's design-space rules the solvers call (explorer.puzzles.threed.space documents each)."""

    def build_space(self, inst: ThreeDInstance) -> ThreeDSpace:
        """The candidate values of every variable."""
        ...

    def candidate_arrays(self, inst: ThreeDInstance, space: ThreeDSpace) -> dict[str, np.ndarray]:
        """Every structurally valid configuration as arrays (the exhaustive search's input)."""
        ...

    def structural_rules(self, inst: ThreeDInstance, c: dict[str, ArrayLike]) -> dict[str, np.ndarray]:
        """The joint rules beyond the candidate lists, as boolean masks by name."""
        ...

    def bubble_ok(self, inst: ThreeDInstance, pp: ArrayLike, v: ArrayLike, m: ArrayLike) -> np.ndarray | bool:
        """The pipeline bubble within the instance's limit."""
        ...

    def micro_batch_count(self, inst: ThreeDInstance, dp: ArrayLike, mb: ArrayLike) -> np.ndarray:
        """Micro-batches per step (0 where DP x mb does not divide the global batch)."""
        ...

    def framework_runs(self, fw: ArrayLike, cp: ArrayLike, pp: ArrayLike, v: ArrayLike, zero: ArrayLike,
                       hsdp: ArrayLike) -> np.ndarray:
        """Mask: the framework (code) runs the combination."""
        ...

    def overlap_allows(self, inst: ThreeDInstance, tp: ArrayLike, sp: ArrayLike) -> np.ndarray:
        """Mask: the TP communication overlap asked for can run."""
        ...
