"""What Models, ModelResults and the built-in models share: symbols, hints, expressions, the Jacobian.

Kept apart from :mod:`fitcore.model` so that :mod:`fitcore.model_result` needs
nothing of the Model class itself (a model is used through its methods).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .constraints import Constraints, base_symtable
from .parameters import Parameters

__all__ = ["model_symbols", "HINT_NAMES", "NAN_POLICIES", "check_nan_policy", "update_expressions", "ModelJacobian"]

def model_symbols() -> dict[str, Any]:
    """Return the functions the derived parameters of the built-in models use in expressions (lmfit's names).

    They are added to the constraint symbol table of every Model fit. scipy is
    imported here, on first use, so that ``import fitcore`` stays light.
    """
    from scipy import special

    return {"wofz": special.wofz, "erf": special.erf, "erfc": special.erfc, "gamfcn": special.gamma,
            "loggammafcn": special.loggamma, "betalnfnc": special.betaln}


#: attributes a parameter hint may set
HINT_NAMES = ("value", "vary", "min", "max", "expr")
#: what a fit may do with non-finite data or model values
NAN_POLICIES = ("raise", "propagate", "omit")


def check_nan_policy(policy: str) -> str:
    """Return ``policy`` if it is one of :data:`NAN_POLICIES`, else raise ValueError naming them."""
    if policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy={policy!r}; use one of {', '.join(map(repr, NAN_POLICIES))}")
    return policy


def update_expressions(params: Parameters, symbols: Mapping[str, Any] | None = None) -> None:
    """Evaluate the expression parameters of ``params`` in place, when every value they need is known.

    Used after :meth:`Model.make_params` so that derived parameters (``fwhm``,
    ``height``) show values before any fit, as lmfit's do.
    """
    if not any(p.expr is not None for p in params.values()):
        return
    if any(p.expr is None and p.value is None for p in params.values()):
        return
    table = base_symtable()
    table.update(model_symbols())
    if symbols:
        table.update(symbols)
    Constraints(params, table).evaluate()


class ModelJacobian:
    """``Dfun`` of a Model fit: rows ``-weights * d model / d p``, one column per parameter the fit varies.

    The columns are those of the fit's varied parameters, ``names``, in order, as
    :class:`fitcore.Minimizer` expects of a ``Dfun`` (profile refits that fix some
    of them pick their columns).
    """

    def __init__(self, model: Any, names: Iterable[str]) -> None:
        self.model = model
        self.names = list(names)

    @classmethod
    def for_params(cls, model: Any, params: Parameters) -> ModelJacobian:
        """The Jacobian of a fit of ``model`` varying what ``params`` varies."""
        return cls(model, [n for n, p in params.items() if p.vary and p.expr is None])

    def __call__(self, params: Parameters, data: Any, weights: Any, **indep: Any) -> Any:
        """Return the ``(ndata, len(names))`` Jacobian of the residual at ``params``."""
        derivs = self.model.derivatives(params, **indep)
        assert derivs is not None
        columns = []
        for name in self.names:
            col = derivs.get(name)
            col = np.zeros(np.shape(data)) if col is None else -col
            if weights is not None:
                col = col * weights
            columns.append(np.ravel(col))
        return np.column_stack(columns)
