"""The typed result every independence test returns."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TestResult:
    """One test of x ⟂ y.

    ``statistic`` is on the scale of the test's reference implementation (e.g. causal-learn's
    KCI returns the trace of the product of the centred kernel matrices); ``null`` names the
    null approximation behind ``p_value``; ``params`` records kernel widths, degrees of
    freedom, seeds… so a result can be reproduced; ``note`` says why a p-value is missing or
    what to be careful about (e.g. small expected counts).
    """

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    p_value: float
    n: int
    null: str
    params: dict[str, Any] = field(default_factory=dict)
    effect_size: float = math.nan
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def invalid_result(test: str, n: int, null: str, note: str, **params: Any) -> TestResult:
    """A result with no p-value (constant column, too few rows…), never an exception."""
    return TestResult(
        test=test,
        statistic=math.nan,
        p_value=math.nan,
        n=int(n),
        null=null,
        params=dict(params),
        note=note,
    )
