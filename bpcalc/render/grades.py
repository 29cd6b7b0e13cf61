"""Grades as tables: one student's check, and a class's batch summary."""

from __future__ import annotations

from ..batch import BatchReport
from ..numbers import counted
from ..grading import Grade
from .tables import Table


def grade_table(grades: list[Grade], numeric_rule: bool = True) -> Table:
    """One row per answer; the verdict, what was expected and the diagnosis share a column,
    which keeps the table readable at 80 columns."""
    right = sum(grade.correct for grade in grades)
    note = f"{right} of {len(grades)} correct."
    if numeric_rule:
        note += (" Numbers count as right within 0.1 % of the exact value, or correctly rounded "
                 "to at least 3 decimals or 3 significant digits.")
    table = Table("Your answers", ("Question", "Your answer", "Result"), (False, False, False), note=note)
    for index, grade in enumerate(grades):
        if grade.correct:
            result = "✓ correct"
        else:
            result = "✗ " + grade.message
            if grade.expected is not None:
                result += f"; expected {grade.expected}"
            if grade.diagnosis:
                result += "\n" + grade.diagnosis
        table.rows.append((grade.id, grade.given, result))
        table.section_ends.add(index)
    return table


def batch_tables(report: BatchReport) -> list[Table]:
    questions = Table("Per question", ("Question", "Answered", "Correct", "Rate"),
                      (False, True, True, True),
                      note=f"{counted(len(report.students), 'student')} graded, "
                           f"{counted(len(report.skipped), 'row')} skipped.")
    for qid, stats in report.per_question().items():
        rate = "" if stats["rate"] is None else f"{100 * stats['rate']:.0f} %"
        questions.rows.append((qid, str(stats["answered"]), str(stats["correct"]), rate))
    tables = [questions]
    common = report.common_mistakes()
    if common:
        mistakes = Table("Most common diagnosed mistakes", ("Question", "Students", "Diagnosis"),
                         (False, True, False))
        mistakes.rows.extend((qid, str(count), diagnosis) for qid, diagnosis, count in common)
        tables.append(mistakes)
    if report.skipped:
        skipped = Table("Skipped rows", ("Line", "Reason"), (True, False))
        skipped.rows.extend((str(row.line), row.reason) for row in report.skipped[:20])
        if len(report.skipped) > 20:
            skipped = Table(skipped.title, skipped.headers, skipped.numeric, skipped.rows,
                            note=f"… and {len(report.skipped) - 20} more (all are in the report).")
        tables.append(skipped)
    return tables
