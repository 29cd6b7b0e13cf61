"""Reports of checks: answer-key verification as a table or a JSON document.

Keys, titles and file names are user text: the tables carry them as plain strings
(the terminal renderer makes them inert) and the JSON document carries them as
JSON strings; a non-finite number in a key is written as the string "nan", "inf"
or "-inf", so one odd key never costs the report of every file.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..numbers import counted, format_number
from ..verify import VerifyReport
from .tables import Table


def _show(value: Any, digits: int, limit: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value if len(value) <= 30 else value[:29] + "…"
    try:
        array = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        text = repr(value)
        return text if len(text) <= 30 else text[:29] + "…"
    shown = ", ".join(format_number(v, digits) for v in array[:limit])
    if np.ndim(value) == 0:
        return shown
    return "[" + shown + (", …" if array.size > limit else "") + "]"


def verify_summary(report: VerifyReport) -> str:
    checks = sum(len(f.checks) for f in report.files)
    wrong = sum(not c.passed and not c.invalid for f in report.files for c in f.checks)
    broken = sum(1 for f in report.files if f.broken)
    summary = f"{counted(checks, 'answer')} in {counted(len(report.files), 'file')}: "
    if report.passed:
        return summary + "all correct."
    problems = [f"{wrong} wrong" if wrong else "", f"{counted(broken, 'file')} broken" if broken else ""]
    return summary + ", ".join(part for part in problems if part) + "."


def verify_tables(report: VerifyReport, digits: int) -> list[Table]:
    """A table per file, a row per answer; the solver's value is shown where they differ."""
    tables = []
    for file in report.files:
        status = ("BROKEN" if file.broken else "no answer key ('expected:')" if not file.checks else
                  "ok" if file.passed else "FAIL")
        title = f"{file.source}" + (f" ({file.title})" if file.title else "") + f": {status}"
        table = Table(title, ("Answer", "Key", "Result"), (False, True, False),
                      note=file.error)
        for check in file.checks:
            if check.passed:
                verdict = "ok"
            elif check.invalid:
                verdict = "BROKEN: " + check.message
            elif check.key_value is not None:
                verdict = (f"FAIL: the formula gives {format_number(check.key_value, digits)}, "
                           f"the solver {format_number(check.solver_value, digits)}")
            elif check.solver_value is not None:
                verdict = f"FAIL: the solver gives {format_number(check.solver_value, digits)}"
            else:
                verdict = "FAIL: " + check.message
            table.rows.append((check.path, _show(check.expected, digits), verdict))
        tables.append(table)
    return tables


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as strings and mapping keys as text (any depth)."""
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                          "inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def verify_document(report: VerifyReport) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "files": [
            {
                "file": file.source,
                "title": file.title,
                "error": file.error,
                "broken": file.broken,
                "checks": [
                    {"path": c.path, "expected": _json_safe(c.expected), "actual": _json_safe(c.actual),
                     "passed": c.passed, "message": c.message,
                     **({"error": c.error or c.message} if c.invalid else {})}
                    for c in file.checks
                ],
            }
            for file in report.files
        ],
    }
