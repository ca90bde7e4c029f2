"""The ``fitcore`` command: what is installed, and does it conform.

``fitcore engines``
    a table of the installed engines and their capabilities; an engine whose
    name another distribution also claims is listed under the name that
    selects it (``'<distribution>:<name>'`` unless the bare name does);
``fitcore prob-funcs``
    the installed confidence-interval probability functions;
``fitcore models``
    the registered models (``fitcore.Model(name)``) and the distributions providing them;
``fitcore plugins``
    every distribution in the ``fitcore`` entry-point group and what became of it;
``fitcore check NAME... | --all``
    the conformance kit (:mod:`fitcore.testing`) on engines, probability functions
    (``--prob-func``) or models (``--model``).

``--json`` gives machine-readable output. Listing never imports an engine or
its dependencies; only ``check`` runs anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from . import __version__, plugins
from .errors import FitcoreError, PluginWarning
from .specs import EngineSpec

__all__ = ["main", "engine_rows", "prob_func_rows", "plugin_rows"]

_ENGINE_COLUMNS = ("name", "distribution", "bounds", "scope", "stochastic", "covariance", "status")
_PLUGIN_COLUMNS = ("distribution", "version", "plugin", "registered", "status")
_PROB_FUNC_COLUMNS = ("name", "distribution", "summary")
_MODEL_COLUMNS = ("name", "distribution", "summary")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def engine_rows(**filters: Any) -> list[dict[str, Any]]:
    """One dict per installed engine, every claimant of a shared name included, for tables and JSON.

    Parameters
    ----------
    **filters
        Capability filters, as for :func:`fitcore.list_engines`.
    """
    conflicts = plugins.list_conflicts("engine")
    rows: list[dict[str, Any]] = []
    for info in plugins.list_engines(**filters):
        spec = info.spec
        rivals = sorted({q for n in spec.names for q in conflicts.get(n, ()) if q != info.qualified_name})
        rows.append({
            "name": spec.name,
            "qualified_name": info.qualified_name,
            "selected_by_name": plugins.selects(info),
            "aliases": list(spec.aliases),
            "shadowed_aliases": plugins.shadowed_aliases(info),
            "conflicts": rivals,
            "summary": spec.summary,
            "distribution": info.distribution,
            "version": info.version,
            "plugin": info.plugin,
            "objective": spec.objective,
            "bounds": spec.bounds,
            "is_global": spec.is_global,
            "stochastic": spec.stochastic,
            "provides_covariance": spec.provides_covariance,
            "supports_max_nfev": spec.supports_max_nfev,
            "supports_abort": spec.supports_abort,
            "options": {k: _jsonable(v) for k, v in spec.options.items()},
            "requires": list(spec.requires),
            "status": info.status,
        })
    return rows


def prob_func_rows() -> list[dict[str, Any]]:
    """One dict per registered probability function, every claimant of a shared name included."""
    conflicts = plugins.list_conflicts("prob_func")
    return [
        {
            "name": info.name,
            "qualified_name": info.qualified_name,
            "selected_by_name": plugins.selects(info),
            "conflicts": [q for q in conflicts.get(info.name, ()) if q != info.qualified_name],
            "summary": info.spec.summary,
            "distribution": info.distribution,
            "version": info.version,
            "plugin": info.plugin,
        }
        for info in plugins.list_prob_funcs()
    ]


def model_rows() -> list[dict[str, Any]]:
    """One dict per registered model (``fitcore.Model(name)``), every claimant of a shared name included."""
    conflicts = plugins.list_conflicts("model")
    rows = []
    for info in plugins.list_models():
        rows.append({
            "name": info.name,
            "qualified_name": info.qualified_name,
            "selected_by_name": plugins.selects(info),
            "conflicts": [q for q in conflicts.get(info.name, ()) if q != info.qualified_name],
            "summary": info.spec.summary,
            "model": info.spec.model if isinstance(info.spec.model, str) else _jsonable(info.spec.model),
            "distribution": info.distribution,
            "version": info.version,
            "plugin": info.plugin,
        })
    return rows


def plugin_rows() -> list[dict[str, Any]]:
    """One dict per plugin (entry point or run-time registration) with its status."""
    return [
        {
            "distribution": r.distribution,
            "version": r.version,
            "plugin": r.plugin,
            "engines": list(r.engines),
            "prob_funcs": list(r.prob_funcs),
            "models": list(r.models),
            "status": r.status,
            "stage": r.stage,
            "error": r.error,
        }
        for r in plugins.list_plugins()
    ]


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _name_cell(row: dict[str, Any]) -> str:
    """Return the name to type: the bare name when it selects this entry, else the qualified name."""
    return row["name"] if row["selected_by_name"] else row["qualified_name"]


def _status_cell(row: dict[str, Any], status: str) -> str:
    if row["conflicts"]:
        also = ", ".join(row["conflicts"])
        status += f" (name also claimed by {also})" if row["selected_by_name"] else f" (conflict with {also})"
    return status


def _engine_cells(row: dict[str, Any]) -> dict[str, str]:
    aliases = [a for a in row["aliases"] if a not in row["shadowed_aliases"]]
    return {
        "name": _name_cell(row) + (f" ({', '.join(aliases)})" if aliases else ""),
        "distribution": f"{row['distribution']} {row['version']}".strip(),
        "bounds": row["bounds"],
        "scope": "global" if row["is_global"] else "local",
        "stochastic": _yes(row["stochastic"]),
        "covariance": _yes(row["provides_covariance"]),
        "status": _status_cell(row, row["status"]),
    }


def _prob_func_cells(row: dict[str, Any]) -> dict[str, str]:
    return {"name": _name_cell(row), "distribution": f"{row['distribution']} {row['version']}".strip(),
            "summary": _status_cell(row, row["summary"])}


def _model_cells(row: dict[str, Any]) -> dict[str, str]:
    return {"name": _name_cell(row), "distribution": f"{row['distribution']} {row['version']}".strip(),
            "summary": _status_cell(row, row["summary"])}


def _plugin_cells(row: dict[str, Any], conflicts: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    made = [f"engine {n}" + (" (conflict)" if n in conflicts["engine"] else "") for n in row["engines"]]
    made += [f"prob_func {n}" + (" (conflict)" if n in conflicts["prob_func"] else "") for n in row["prob_funcs"]]
    if row.get("models"):
        made.append(f"{len(row['models'])} models")
    status = row["status"]
    if row["status"] == "broken":
        status = f"broken ({row['stage']}): {row['error']}"
    elif row["status"] == "blocked":
        status = f"blocked: {row['error']}"
    return {"distribution": row["distribution"], "version": row["version"], "plugin": row["plugin"],
            "registered": ", ".join(made) or "-", "status": status}


def _table(columns: Sequence[str], rows: list[dict[str, str]], out: TextIO) -> None:
    widths = {c: max([len(c)] + [len(r.get(c, "")) for r in rows]) for c in columns}
    line = "  ".join(c.upper().ljust(widths[c]) for c in columns)
    out.write(line.rstrip() + "\n")
    for r in rows:
        out.write("  ".join(r.get(c, "").ljust(widths[c]) for c in columns).rstrip() + "\n")


def _parse_filter(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--where {text!r}: expected KEY=VALUE, e.g. is_global=true")
    if key not in EngineSpec.__dataclass_fields__:
        raise argparse.ArgumentTypeError(f"--where {text!r}: unknown capability {key!r}")
    low = value.strip().lower()
    if low in ("true", "yes", "1"):
        return key, True
    if low in ("false", "no", "0"):
        return key, False
    return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fitcore", description="Discover and check fitcore plugins.")
    parser.add_argument("--version", action="version", version=f"fitcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    eng = sub.add_parser("engines", help="list the installed engines and their capabilities")
    eng.add_argument("--json", action="store_true", help="print JSON instead of a table")
    eng.add_argument("--where", action="append", type=_parse_filter, default=[], metavar="KEY=VALUE",
                     help="filter on a capability, e.g. --where is_global=true --where bounds=native")
    pfs = sub.add_parser("prob-funcs", help="list the installed confidence-interval probability functions")
    pfs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mdl = sub.add_parser("models", help="list the registered models (fitcore.Model(name)) and their distributions")
    mdl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plg = sub.add_parser("plugins", help="list every plugin distribution and its status")
    plg.add_argument("--json", action="store_true", help="print JSON instead of a table")
    chk = sub.add_parser("check", help="run the conformance kit on an engine or probability function")
    chk.add_argument("names", nargs="*", metavar="NAME", help="engine (or, with --prob-func, function) names")
    chk.add_argument("--prob-func", action="store_true", help="the names are probability functions")
    chk.add_argument("--model", action="store_true", help="the names are models")
    chk.add_argument("--all", action="store_true", help="check every installed engine and probability function")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``fitcore`` command; return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).
    out : file, optional
        Where to print (default ``sys.stdout``).
    """
    out = out if out is not None else sys.stdout
    args = _parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        try:
            status = _run(args, out)
        except FitcoreError as exc:  # includes PluginError under FITCORE_STRICT_PLUGINS=1
            sys.stderr.write(f"fitcore: {exc}\n")
            return 2
        except BrokenPipeError:  # `fitcore engines | head`: stop quietly
            if out is sys.stdout:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    broken = [w for w in caught if issubclass(w.category, PluginWarning)]
    if broken and args.command != "plugins" and not getattr(args, "json", False):
        sys.stderr.write(f"fitcore: {len(broken)} plugin(s) broken; run `fitcore plugins` for details\n")
    return status


def _listing(rows: list[dict[str, Any]], as_json: bool, columns: Any, cells: Any, out: TextIO) -> int:
    """Write a listing's rows as JSON or as a table of ``cells(row)``."""
    if as_json:
        json.dump(rows, out, indent=2)
        out.write("\n")
    else:
        _table(columns, [cells(r) for r in rows], out)
    return 0


def _run(args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "engines":
        try:
            rows = engine_rows(**dict(args.where))
        except TypeError as exc:
            sys.stderr.write(f"fitcore: {exc}\n")
            return 2
        return _listing(rows, args.json, _ENGINE_COLUMNS, _engine_cells, out)
    if args.command == "prob-funcs":
        return _listing(prob_func_rows(), args.json, _PROB_FUNC_COLUMNS, _prob_func_cells, out)
    if args.command == "models":
        return _listing(model_rows(), args.json, _MODEL_COLUMNS, _model_cells, out)
    if args.command == "plugins":
        conflicts = {k: plugins.list_conflicts(k) for k in ("engine", "prob_func")}
        return _listing(plugin_rows(), args.json, _PLUGIN_COLUMNS, lambda r: _plugin_cells(r, conflicts), out)
    from . import testing

    if args.all == bool(args.names):
        sys.stderr.write("fitcore check: give engine names, or --all\n")
        return 2
    if args.all:
        todo = [(e.name if plugins.selects(e) else e.qualified_name, testing.check_engine)
                for e in plugins.list_engines()]
        todo += [(p.name if plugins.selects(p) else p.qualified_name, testing.check_prob_func)
                 for p in plugins.list_prob_funcs()]
    else:
        if args.prob_func and args.model:
            sys.stderr.write("fitcore check: give --prob-func or --model, not both\n")
            return 2
        kit = testing.check_model if args.model else testing.check_prob_func if args.prob_func else testing.check_engine
        todo = [(n, kit) for n in args.names]
    failed_any = False
    for name, kit in todo:
        results = kit(name, raise_on_failure=False)
        for res in results:
            out.write(f"{res.status.upper():4}  {res.check}" + (f": {res.message}" if res.message else "") + "\n")
        failed = [r for r in results if r.status == "fail"]
        failed_any = failed_any or bool(failed)
        out.write(f"{name}: {len(results) - len(failed)} of {len(results)} checks passed\n")
    return 1 if failed_any else 0
