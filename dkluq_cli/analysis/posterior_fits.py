"""How many of the per-sample fits behind a derived quantity failed, and when that is too many.

``eos`` fits an equation of state to every joint posterior sample (``elastic`` fits a strain
polynomial the same way): the spread of the fitted values is the model's uncertainty about
them. A sample whose fit fails, or whose minimum lies outside the scanned range, is dropped,
and the rest would look like a confident answer. :class:`FitTally` counts the failures by
reason; :func:`check_fits` refuses the result when more than :data:`MAX_FAILED_FRACTION` of the
samples failed, or when the fit to the posterior mean has no minimum inside the scanned range;
:func:`check_minimum_in_domain` refuses a minimum that lies outside the training domain (a
minimum the model only extrapolates to). Every command that fits posterior samples reports its
tally and calls both.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dkluq_cli.errors import PosteriorFitError

#: Largest share of failed per-sample fits a reported result may rest on.
MAX_FAILED_FRACTION = 0.05

#: Failure reason of a fit whose minimum is not inside the scanned range.
OUTSIDE = "minimum outside the scanned range"


@dataclass
class FitTally:
    """Per-sample fits of one derived quantity, and the reasons of the failed ones.

    Attributes:
        what: What was fitted, for messages (``"EOS"``, ``"elastic"``).
        n_samples: Posterior samples fitted.
        failures: Reason → number of samples whose fit failed for it.
        mean_failure: Why the fit to the posterior mean failed (None: it succeeded).
    """

    what: str
    n_samples: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    mean_failure: str | None = None

    def add(self, reason: str | None) -> None:
        """Count one sample: ``reason`` None for a fit that succeeded."""
        self.n_samples += 1
        if reason is not None:
            self.failures[reason] += 1

    @property
    def n_failed(self) -> int:
        """Samples whose fit failed."""
        return int(sum(self.failures.values()))

    @property
    def n_fitted(self) -> int:
        """Samples whose fit succeeded."""
        return self.n_samples - self.n_failed

    @property
    def failed_fraction(self) -> float:
        """Share of the samples whose fit failed (0 with no samples)."""
        return self.n_failed / self.n_samples if self.n_samples else 0.0

    def summary(self) -> str:
        """``"322 of 400 EOS fits failed (300 minimum outside ..., 22 ...)"``, or all fitted."""
        if not self.n_failed:
            return f"all {self.n_samples} {self.what} fits succeeded"
        why = ", ".join(f"{n} {reason}" for reason, n in self.failures.most_common())
        return f"{self.n_failed} of {self.n_samples} {self.what} fits failed ({why})"

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers and strings (for a command's JSON report)."""
        return {
            "n_samples": self.n_samples,
            "n_fitted": self.n_fitted,
            "n_failed": self.n_failed,
            "failures": dict(self.failures),
            "mean_failure": self.mean_failure,
        }


def check_fits(
    tally: FitTally,
    scanned: str,
    hint: str,
    max_failed_fraction: float = MAX_FAILED_FRACTION,
) -> None:
    """Refuse a derived quantity resting on too few successful per-sample fits.

    Args:
        tally: The fits' tally.
        scanned: The scanned range in words, for the message (``"scale 0.5–2 of a, b, c"``).
        hint: What the user can change (one line).
        max_failed_fraction: Largest share of failed fits accepted.

    Raises:
        PosteriorFitError: More than ``max_failed_fraction`` of the fits failed, or the fit to
            the posterior mean failed or has no minimum inside the scanned range.
    """
    if tally.mean_failure == OUTSIDE:
        raise PosteriorFitError(
            f"the {tally.what} fitted to the posterior mean has its minimum outside {scanned}",
            hint=hint,
        )
    if tally.mean_failure:
        raise PosteriorFitError(
            f"the {tally.what} fit to the posterior mean over {scanned} failed: "
            f"{tally.mean_failure}",
            hint=hint,
        )
    if tally.failed_fraction > max_failed_fraction:
        raise PosteriorFitError(
            f"{tally.summary()} over {scanned}: more than "
            f"{100 * max_failed_fraction:g} % of the posterior samples give no result",
            hint=hint,
        )


def check_minimum_in_domain(what: str, minimum: str, reason: str, hint: str) -> None:
    """Refuse a fitted minimum outside the training domain.

    Args:
        what: What was fitted (``"EOS"``).
        minimum: The minimum in words (``"a0 = 3.45 Å"``).
        reason: Why the minimum's structure is out of domain (empty: it is in domain).
        hint: What the user can change (one line).

    Raises:
        PosteriorFitError: ``reason`` is not empty.
    """
    if reason:
        raise PosteriorFitError(
            f"the {what} minimum ({minimum}) lies outside the training domain ({reason}): the "
            "model only extrapolates there",
            hint=hint,
        )


__all__ = ["MAX_FAILED_FRACTION", "OUTSIDE", "FitTally", "check_fits", "check_minimum_in_domain"]
