"""Grades as tables: one student's check, and a class's batch summary; the grading progress bar.

User text (answers, student names, question ids from a submissions file) is shown
with control characters escaped (:func:`bpcalc.usertext.visible`).
"""

from __future__ import annotations

from typing import Any, Callable

from ..batch import BatchReport
from ..grading import Grade
from ..numbers import counted
from ..usertext import visible
from .tables import Table

NUMERIC_RULE = ("Numbers count as right within 0.1 % of the exact value, or correctly rounded to "
                "at least 3 decimals or 3 significant digits.")


def grade_table(grades: list[Grade], numeric_rule: bool = True, digits: int = 6) -> Table:
    """One row per answer; the verdict, what was expected and the diagnosis share a column,
    which keeps the table readable at 80 columns."""
    right = sum(grade.correct for grade in grades)
    note = f"{right} of {len(grades)} correct."
    if numeric_rule:
        note += " " + NUMERIC_RULE
    table = Table("Your answers", ("Question", "Your answer", "Result"), (False, False, False), note=note)
    for index, grade in enumerate(grades):
        table.rows.append((visible(grade.id), visible(grade.given), verdict(grade, digits)))
        table.section_ends.add(index)
    return table


def verdict(grade: Grade, digits: int = 6, separator: str = "\n") -> str:
    """✓ correct, or ✗ what is wrong; expected …, then the diagnosis."""
    if grade.correct:
        return "✓ correct"
    result = "✗ " + visible(grade.message)
    if grade.expected is not None:
        result += f"; expected {visible(grade.expected_text(digits))}"
    if grade.diagnosis:
        result += separator + visible(grade.diagnosis)
    return result


def batch_tables(report: BatchReport) -> list[Table]:
    total = len(report.question_ids)
    note = (f"{counted(report.student_count, 'student')} graded, each on "
            f"{counted(total, 'question')} (a blank answer counts as wrong); "
            f"{counted(report.skipped_count, 'row')} skipped.")
    questions = Table("Per question", ("Question", "Answered", "Correct", "Rate"),
                      (False, True, True, True), note=note)
    for qid, stats in report.per_question().items():
        rate = "" if stats["rate"] is None else f"{100 * stats['rate']:.0f} %"
        questions.rows.append((visible(qid), str(stats["answered"]), str(stats["correct"]), rate))
    tables = [questions]
    common = report.common_mistakes()
    if common:
        mistakes = Table("Most common diagnosed mistakes", ("Question", "Students", "Diagnosis"),
                         (False, True, False))
        mistakes.rows.extend((visible(qid), str(count), visible(diagnosis)) for qid, diagnosis, count in common)
        tables.append(mistakes)
    if report.skipped:
        shown = report.skipped[:20]
        more = report.skipped_count - len(shown)
        skipped = Table("Skipped rows", ("Line", "Reason"), (True, False),
                        note=f"… and {more} more (all are in a JSON report)." if more > 0 else None)
        skipped.rows.extend((str(row.line), visible(row.reason)) for row in shown)
        tables.append(skipped)
    return tables


class reading_progress:
    """A progress bar driven by the bytes read so far, on a terminal and for files big
    enough to wait for; nothing otherwise. ``with reading_progress(console, size) as
    update: update(position)``; updates are cheap, the bar redraws ten times a second."""

    MINIMUM_BYTES = 1 << 20

    def __init__(self, console: Any, size: int, description: str = "Grading") -> None:
        self.console, self.size, self.description = console, size, description
        self.enabled = console.is_terminal and size >= self.MINIMUM_BYTES
        self.progress: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda position: None
        from rich.progress import (BarColumn, DownloadColumn, Progress, TaskProgressColumn,
                                   TextColumn, TimeRemainingColumn)

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 DownloadColumn(), TimeRemainingColumn(), console=self.console,
                                 transient=True)
        self.progress.start()
        task = self.progress.add_task(self.description, total=self.size)
        return lambda position: self.progress.update(task, completed=position)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
