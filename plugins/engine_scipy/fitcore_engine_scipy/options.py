"""Every option of every scipy engine, with its default (importing nothing from scipy).

Names are scipy's, except ``maxfev`` of ``least_squares`` (scipy's ``max_nfev``, a name fitcore's
core keeps for its own evaluation budget). ``None`` means scipy's own default. Where a default
differs from scipy's it says so below and in ``docs/engines.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OPTIONS", "LEAST_SQUARES", "MINIMIZE", "GLOBAL"]

LEAST_SQUARES: dict[str, Any] = {
    "method": "trf",
    "loss": "linear",
    "f_scale": 1.0,
    "x_scale": None,
    "ftol": 1.0e-8,
    "xtol": 1.0e-8,
    "gtol": 1.0e-8,
    "diff_step": None,
    "jac": "2-point",
    "tr_solver": None,
    "tr_options": None,
    "jac_sparsity": None,
    "maxfev": None,
}

#: scipy.optimize.minimize methods: engine name -> (scipy method, options). The derivative-free methods'
#: tolerances, and SLSQP's ftol, are tighter than scipy's (xatol=fatol=1e-4, xtol=ftol=1e-4, ftol=1e-6), which
#: stop a fit far from the minimum whenever the parameters or the chi-square are small numbers. Powell's
#: ``direc=None`` means the conjugate directions of the Gauss-Newton Hessian at the start (see local.py);
#: TNC's ``maxfun=None`` means ``1000 * (nvar + 1)`` (scipy's ``max(100, 10 * nvar)`` stops most fits short)
#: and its ``ftol=1e-14`` (scipy: -1, i.e. 0) keeps it from stopping on an unchanged chi-square short of the minimum.
MINIMIZE: dict[str, tuple[str, dict[str, Any]]] = {
    "nelder": ("Nelder-Mead", {"maxiter": None, "maxfev": None, "xatol": 1.0e-8, "fatol": 1.0e-10,
                               "adaptive": False, "initial_simplex": None}),
    "powell": ("Powell", {"maxiter": None, "maxfev": None, "xtol": 1.0e-8, "ftol": 1.0e-10, "direc": None}),
    "cg": ("CG", {"maxiter": None, "gtol": 1.0e-5, "norm": float("inf"), "c1": 1.0e-4, "c2": 0.4}),
    "bfgs": ("BFGS", {"maxiter": None, "gtol": 1.0e-5, "norm": float("inf"), "xrtol": 0.0, "c1": 1.0e-4,
                      "c2": 0.9, "hess_inv0": None}),
    "tnc": ("TNC", {"maxfun": None, "maxCGit": -1, "eta": -1.0, "stepmx": 0.0, "accuracy": 0.0, "minfev": 0.0,
                    "ftol": 1.0e-14, "xtol": -1.0, "gtol": -1.0, "rescale": -1.0, "scale": None, "offset": None}),
    "slsqp": ("SLSQP", {"maxiter": 100, "ftol": 1.0e-12}),
    "trust-constr": ("trust-constr", {"maxiter": 1000, "gtol": 1.0e-8, "xtol": 1.0e-8, "barrier_tol": 1.0e-8,
                                      "initial_tr_radius": 1.0, "initial_constr_penalty": 1.0,
                                      "initial_barrier_parameter": 0.1, "initial_barrier_tolerance": 0.1,
                                      "factorization_method": None}),
}

#: ``polish`` (differential_evolution, shgo) and ``finish`` (brute) are the engine's own: L-BFGS-B inside
#: the bounds with the core's gradient and tight tolerances, from the best point found (scipy's polish differences
#: the chi-square itself, which loses the last digits near the minimum). ``local_maxiter`` bounds
#: each local search of basinhopping and shgo.
GLOBAL: dict[str, dict[str, Any]] = {
    "differential_evolution": {"strategy": "best1bin", "maxiter": 1000, "popsize": 15, "tol": 0.01,
                               "mutation": (0.5, 1.0), "recombination": 0.7, "init": "latinhypercube",
                               "atol": 0.0, "updating": "immediate", "workers": 1, "polish": True},
    "basinhopping": {"niter": 100, "T": 1.0, "stepsize": 0.5, "interval": 50, "niter_success": None,
                     "target_accept_rate": 0.5, "stepwise_factor": 0.9, "local_maxiter": 15000},
    "shgo": {"n": 100, "iters": 1, "sampling_method": "simplicial", "workers": 1, "maxfev": None,
             "maxtime": None, "local_maxiter": 15000, "polish": True},
    "brute": {"Ns": 20, "finish": True, "workers": 1},
}

OPTIONS: dict[str, dict[str, Any]] = {
    "least_squares": LEAST_SQUARES,
    **{name: opts for name, (_, opts) in MINIMIZE.items()},
    **GLOBAL,
}
