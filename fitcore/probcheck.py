"""Probability functions checked at every use: each value must be a real number in [0, 1].

A probability function comes from a plugin or from the user; ``conf_interval``
turns its values into confidence limits. A value above 1 would silently narrow
the intervals, a negative or NaN one would send the root search astray, so
:func:`fitcore.plugins.get_prob_func` hands out the function wrapped in
:class:`CheckedProbFunc`, which returns the value unchanged (as a Python float)
or raises :class:`~fitcore.errors.ProbFuncError` naming the function, where it
comes from and the statistics it was given.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ProbFuncError

__all__ = ["CheckedProbFunc"]


class CheckedProbFunc:
    """A probability function whose every value is verified to be a real number in [0, 1].

    Parameters
    ----------
    func : callable
        ``func(best, new) -> probability``.
    name : str
        Its name, for messages (and ``__name__``).
    source : str
        Where it comes from: ``"distribution fitcore 0.1.0"``, ``"the prob_func you passed"``.
    alternatives : sequence of str
        Registered names to suggest instead.
    """

    def __init__(self, func: Callable[[Any, Any], Any], name: str, source: str,
                 alternatives: Sequence[str] = ()) -> None:
        self.func = func
        self.__name__ = name
        self.source = source
        self.alternatives = tuple(alternatives)

    def __repr__(self) -> str:
        return f"<probability function {self.__name__!r} from {self.source}, checked>"

    def __call__(self, best: Any, new: Any) -> float:
        """Return ``func(best, new)`` as a float, or raise ProbFuncError when it is not in [0, 1]."""
        value = self.func(best, new)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._error(value, f"returned {type(value).__name__} {value!r}, not a float", best, new)
        p = float(value)
        if math.isnan(p):
            raise self._error(value, "returned nan", best, new)
        if not 0.0 <= p <= 1.0:
            raise self._error(value, f"returned {p!r}, outside [0, 1]", best, new)
        return p

    def _error(self, value: Any, what: str, best: Any, new: Any) -> ProbFuncError:
        try:
            where = (f" for a chi-square increase of {float(new.chisqr) - float(best.chisqr):.6g} with "
                     f"{int(best.nvarys) - int(new.nvarys)} parameter(s) fixed")
        except (AttributeError, TypeError, ValueError):
            where = ""
        instead = f" (registered: {', '.join(self.alternatives)})" if self.alternatives else ""
        return ProbFuncError(
            f"probability function {self.__name__!r} from {self.source} {what}{where}. A probability function "
            f"must return a float in [0, 1]; this is a defect of the function, not of your fit: report it to "
            f"its authors and choose another prob_func meanwhile{instead}",
            self.__name__, value,
        )
