"""Batch grading for instructors: a file of submissions in, a report out.

Submissions are a CSV (header ``student,<question id>,…``, one row per
student) or JSON Lines (``{"student": …, "answers": {id: value}}``). A
malformed row is reported with its line number and skipped, never fatal.
Reports are JSON or CSV, written to a temporary file and renamed, so an
interrupted run never leaves half a report behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .errors import AnswerError, BpcalcError
from .grading import Grade, Grader


@dataclass(frozen=True)
class Submission:
    student: str
    answers: dict[str, str]
    line: int


@dataclass(frozen=True)
class SkippedRow:
    line: int
    reason: str


@dataclass
class StudentResult:
    student: str
    grades: list[Grade]

    @property
    def score(self) -> int:
        return sum(grade.correct for grade in self.grades)

    def to_dict(self) -> dict[str, Any]:
        return {"student": self.student, "score": self.score, "total": len(self.grades),
                "answers": [grade.to_dict() for grade in self.grades]}


@dataclass
class BatchReport:
    """Per student, per question and the most common diagnosed mistakes."""

    students: list[StudentResult] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    question_ids: list[str] = field(default_factory=list)

    def per_question(self) -> dict[str, dict[str, Any]]:
        stats: dict[str, dict[str, Any]] = {qid: {"answered": 0, "correct": 0}
                                            for qid in self.question_ids}
        for result in self.students:
            for grade in result.grades:
                entry = stats.setdefault(grade.id, {"answered": 0, "correct": 0})
                entry["answered"] += 1
                entry["correct"] += grade.correct
        for entry in stats.values():
            entry["rate"] = entry["correct"] / entry["answered"] if entry["answered"] else None
        return {qid: entry for qid, entry in stats.items() if entry["answered"]}

    def common_mistakes(self, top: int = 5) -> list[tuple[str, str, int]]:
        counts = Counter((grade.id, grade.diagnosis) for result in self.students
                         for grade in result.grades if grade.diagnosis)
        return [(qid, diagnosis, count) for (qid, diagnosis), count in counts.most_common(top)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "students": [result.to_dict() for result in self.students],
            "questions": self.per_question(),
            "common_mistakes": [{"id": qid, "diagnosis": d, "count": n}
                                for qid, d, n in self.common_mistakes()],
            "skipped": [{"line": row.line, "reason": row.reason} for row in self.skipped],
        }


def read_submissions(path: str, check_id: Callable[[str], Any] = lambda qid: None
                     ) -> Iterator[Submission | SkippedRow]:
    """Rows of a .csv or .jsonl file; malformed rows come out as SkippedRow.

    ``check_id`` raises for an unknown question id: fatal in a CSV header (every
    row would fail), a skipped row in JSON Lines."""
    try:
        handle = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise AnswerError(f"{path}: no such file") from None
    except OSError as error:
        raise AnswerError(f"{path}: cannot be read ({error.strerror})") from None
    with handle:
        if path.endswith((".jsonl", ".ndjson")):
            yield from _jsonl_rows(handle)
        elif path.endswith(".csv"):
            yield from _csv_rows(handle, path, check_id)
        else:
            raise AnswerError(f"{path}: expected a .csv or .jsonl file of submissions")


def _csv_rows(handle: io.TextIOBase, path: str, check_id: Callable[[str], Any]
              ) -> Iterator[Submission | SkippedRow]:
    try:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[0].strip().lower() != "student" or len(header) < 2:
            raise AnswerError(f"{path}:1: expected a header 'student,<question id>,...'")
        ids = [name.strip() for name in header[1:]]
        for qid in ids:
            try:
                check_id(qid)
            except BpcalcError as error:
                raise AnswerError(f"{path}:1: {error}") from None
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield SkippedRow(line, f"expected {len(header)} fields like the header, got {len(row)}")
                continue
            student = row[0].strip()
            if not student:
                yield SkippedRow(line, "no student name")
                continue
            answers = {qid: cell.strip() for qid, cell in zip(ids, row[1:]) if cell.strip()}
            yield Submission(student, answers, line)
    except csv.Error as error:
        raise AnswerError(f"{path}: not a readable CSV file ({error})") from None
    except UnicodeDecodeError:
        raise AnswerError(f"{path}: not UTF-8 text") from None


def _jsonl_rows(handle: io.TextIOBase) -> Iterator[Submission | SkippedRow]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            yield SkippedRow(line, f"not JSON ({error.msg} at column {error.colno})")
            continue
        if (not isinstance(record, dict) or not isinstance(record.get("student"), (str, int))
                or not isinstance(record.get("answers"), dict)):
            yield SkippedRow(line, 'expected {"student": ..., "answers": {id: value}}')
            continue
        answers = {str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v)
                   for k, v in record["answers"].items() if v is not None}
        yield Submission(str(record["student"]), answers, line)


def grade_submissions(grader: Grader, rows: Iterable[Submission | SkippedRow],
                      progress: Callable[[], None] | None = None) -> BatchReport:
    """Grade every submission; answers to unknown questions skip the row, with a reason."""
    report = BatchReport(question_ids=list(grader.questions))
    for row in rows:
        if progress:
            progress()
        if isinstance(row, SkippedRow):
            report.skipped.append(row)
            continue
        try:
            grades = [grader.grade(qid, value) for qid, value in row.answers.items()]
        except BpcalcError as error:
            report.skipped.append(SkippedRow(row.line, str(error)))
            continue
        report.students.append(StudentResult(row.student, grades))
    return report


def write_report(report: BatchReport, path: str) -> None:
    """Write JSON or CSV (by extension) atomically: a temporary file, then a rename."""
    if path.endswith(".csv"):
        text = _report_csv(report)
    elif path.endswith(".json"):
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        raise AnswerError(f"{path}: the report must be a .json or .csv file")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".bpcalc-report-", dir=directory)
    except OSError as error:
        raise AnswerError(f"{path}: cannot write the report ({error.strerror})") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise AnswerError(f"{path}: cannot write the report ({error.strerror or error})") from None
        raise


def _report_csv(report: BatchReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "score", "question", "given", "correct", "expected", "message", "diagnosis"])
    for result in report.students:
        for grade in result.grades:
            writer.writerow([result.student, result.score, grade.id, grade.given, grade.correct,
                             grade.expected or "", grade.message, grade.diagnosis or ""])
    return out.getvalue()
