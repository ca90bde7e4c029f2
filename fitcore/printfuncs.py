"""The manual's spelling: ``fitcore.printfuncs.report_errors`` and ``report_ci``."""

from __future__ import annotations

from .ci_report import ci_report, report_ci
from .report import fit_report, report_errors, report_fit

__all__ = ["report_errors", "report_fit", "fit_report", "report_ci", "ci_report"]
