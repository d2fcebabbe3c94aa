"""Level I: pairwise independence tests between trait scores and attributes.

Each test is ``f(x, y, **options) -> TestResult``; ``compat="paper"`` reproduces the authors'
libraries (causal-learn KCI / RCIT / chisq / gsq, conditional_independence HSIC) exactly.
"""

from personax.independence.conditional import fisherz
from personax.independence.contingency import chisq, gsq
from personax.independence.hsic import hsic
from personax.independence.kci import kci
from personax.independence.rcit import rcit
from personax.independence.result import TestResult

__all__ = ["TestResult", "chisq", "fisherz", "gsq", "hsic", "kci", "rcit"]
