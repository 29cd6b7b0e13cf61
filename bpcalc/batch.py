"""Batch grading for instructors: a file of submissions in, a report out.

Submissions are a CSV (header ``student,<question id>,…``, one row per
student) or JSON Lines (``{"student": …, "answers": {id: value}}``), read row
by row, so a file of any size is graded in bounded memory. Every student is
graded on the same questions (the CSV header's, or the problem's), a blank or
missing answer counting as wrong and unanswered, so scores share one total.

A row that cannot be graded — malformed, too long, not UTF-8, nested too
deeply, a duplicate student — is reported with its line number and skipped;
the rest of the class is still graded and the report still written. The
report (JSON or CSV) is written to a temporary file beside the target, named
``.REPORT.bpcalc-partial-…`` so a leftover is recognisable (and removed on the
next run), then renamed over the target, keeping its permissions: an
interrupted run never leaves half a report or loses the old one.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, TextIO

from .errors import AnswerError, BpcalcError
from .files import open_text, same_file
from .grading import Grade, Grader, answer_text
from .usertext import spreadsheet_safe, visible

MAX_LINE_CHARS = 100_000     # a longer line is skipped without ever being held whole
MAX_CELL_CHARS = 10_000      # a longer answer or student name skips its row
SHOWN_SKIPPED = 20           # skipped rows kept in memory for the summary (all are in the report)
PARTIAL = ".bpcalc-partial-"
CSV_COLUMNS = ("student", "score", "total", "question", "given", "correct", "unanswered",
               "expected", "expected_text", "message", "diagnosis")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Submission:
    student: str
    answers: dict[str, str]
    line: int


@dataclass(frozen=True)
class SkippedRow:
    line: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class StudentResult:
    student: str
    grades: list[Grade]
    line: int = 0

    @property
    def score(self) -> int:
        return sum(grade.correct for grade in self.grades)

    @property
    def total(self) -> int:
        return len(self.grades)

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        return {"student": self.student, "line": self.line, "score": self.score, "total": self.total,
                "answered": sum(not grade.unanswered for grade in self.grades),
                "answers": [grade.to_dict(digits) for grade in self.grades]}


@dataclass
class BatchReport:
    """What a batch comes to: per-question counts, the most common diagnosed mistakes and
    the skipped rows, gathered as students are graded. ``students`` holds every result
    only when the batch is kept in memory (the Python API); the CLI streams them to the
    report file instead."""

    question_ids: list[str] = field(default_factory=list)
    students: list[StudentResult] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)   # the first SHOWN_SKIPPED (or all, kept)
    student_count: int = 0
    skipped_count: int = 0
    counts: dict[str, Counter] = field(default_factory=dict)
    mistakes: Counter = field(default_factory=Counter)

    def add(self, result: StudentResult, keep: bool) -> None:
        self.student_count += 1
        if keep:
            self.students.append(result)
        for grade in result.grades:
            counts = self.counts.get(grade.id)
            if counts is None:
                counts = self.counts[grade.id] = Counter()
            if not grade.unanswered:
                counts["answered"] += 1
            if grade.correct:
                counts["correct"] += 1
            elif grade.diagnosis:
                self.mistakes[(grade.id, grade.diagnosis)] += 1

    def skip(self, row: SkippedRow, keep: bool) -> None:
        self.skipped_count += 1
        if keep or len(self.skipped) < SHOWN_SKIPPED:
            self.skipped.append(row)

    def per_question(self) -> dict[str, dict[str, Any]]:
        """Per question: students answering, correct, and the rate over every student graded
        (a blank answer is a wrong one)."""
        graded = self.student_count
        stats = {}
        for qid in self.question_ids:
            counts = self.counts.get(qid, Counter())
            stats[qid] = {"graded": graded, "answered": counts["answered"], "correct": counts["correct"],
                          "unanswered": graded - counts["answered"],
                          "rate": counts["correct"] / graded if graded else None}
        return stats

    def common_mistakes(self, top: int = 5) -> list[tuple[str, str, int]]:
        return [(qid, diagnosis, count) for (qid, diagnosis), count in self.mistakes.most_common(top)]

    def summary(self) -> dict[str, Any]:
        return {"students": self.student_count, "questions": len(self.question_ids),
                "question_ids": list(self.question_ids), "skipped": self.skipped_count}

    def tail(self) -> dict[str, Any]:
        """Everything of the JSON report but the students and the skipped rows."""
        return {"questions": self.per_question(),
                "common_mistakes": [{"id": qid, "diagnosis": d, "count": n}
                                    for qid, d, n in self.common_mistakes()],
                "summary": self.summary()}

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        return {"students": [result.to_dict(digits) for result in self.students], **self.tail(),
                "skipped": [row.to_dict() for row in self.skipped]}


# ---------------------------------------------------------------- reading

class _Lines:
    """Physical lines of a text stream, each at most MAX_LINE_CHARS long. A longer line is
    read through in chunks and replaced by a blank one; ``problem`` then says why, as it
    does for a line holding bytes that are not UTF-8 (decoded to lone surrogates)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.number = 0
        self.problem: str | None = None

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        text = self.stream.readline(MAX_LINE_CHARS + 1)
        if not text:
            raise StopIteration
        self.number += 1
        if len(text) > MAX_LINE_CHARS and not text.endswith(("\n", "\r")):
            while (rest := self.stream.readline(1 << 16)) and not rest.endswith(("\n", "\r")):
                pass
            self.problem = self.problem or f"the line is longer than {MAX_LINE_CHARS:,} characters"
            return "\n"
        if _SURROGATE.search(text):
            self.problem = self.problem or "the line is not UTF-8 text"
        return text


class SubmissionFile:
    """An open file of submissions: ``columns`` (the CSV header's question ids, or None for
    JSON Lines), ``position``/``size`` in bytes for a progress bar, and iteration over
    :class:`Submission` and :class:`SkippedRow`. A file that cannot be read at all (not a
    regular file, a bad CSV header) raises a one-line BpcalcError when opened."""

    def __init__(self, path: str, check_id: Callable[[str], Any] = lambda qid: None) -> None:
        if path.endswith((".jsonl", ".ndjson")):
            self.kind = "jsonl"
        elif path.endswith(".csv"):
            self.kind = "csv"
        else:
            raise AnswerError(f"{visible(path)}: expected a .csv or .jsonl file of submissions")
        self.path, self.check_id = path, check_id
        self.stream = open_text(path, "a .csv or .jsonl file of submissions", errors="surrogateescape")
        self.lines = _Lines(self.stream)
        self.columns: list[str] | None = None
        self._indices: list[tuple[int, str]] = []
        try:
            if self.kind == "csv":
                self._header()
        except BaseException:
            self.close()
            raise

    @property
    def position(self) -> int:
        return self.stream.position

    @property
    def size(self) -> int:
        return self.stream.size

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> "SubmissionFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[Submission | SkippedRow]:
        return self._csv_rows() if self.kind == "csv" else self._jsonl_rows()

    def _fail(self, message: str) -> AnswerError:
        return AnswerError(f"{visible(self.path)}:1: {message}")

    def _header(self) -> None:
        try:
            header = next(csv.reader(self.lines), None)
        except csv.Error as error:
            raise self._fail(f"the header is not readable as CSV ({error})") from None
        if self.lines.problem:
            raise self._fail(f"the header cannot be read: {self.lines.problem}")
        if not header or header[0].strip().lower() != "student" or len(header) < 2:
            raise self._fail("expected a header 'student,<question id>,...'")
        seen: dict[str, int] = {}
        for column, name in enumerate(header[1:], start=2):
            qid = name.strip()
            if not qid:
                continue                      # an unnamed column (a spreadsheet's trailing comma)
            if qid in seen:
                raise self._fail(f"the question {visible(qid)!r} has two columns ({seen[qid]} and {column}); "
                                 "keep one, so that it is clear which answer counts")
            seen[qid] = column
            try:
                self.check_id(qid)
            except BpcalcError as error:
                raise self._fail(str(error)) from None
            self._indices.append((column - 1, qid))
        self.width = len(header)
        self.columns = [qid for _index, qid in self._indices]

    def _csv_rows(self) -> Iterator[Submission | SkippedRow]:
        reader = csv.reader(self.lines)
        while True:
            start = self.lines.number + 1
            self.lines.problem = None
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                reader = csv.reader(self.lines)            # start afresh at the next line
                yield SkippedRow(start, f"not readable as CSV ({error})")
                continue
            if self.lines.problem:
                yield SkippedRow(start, self.lines.problem)
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > self.width and any(cell.strip() for cell in row[self.width:]):
                yield SkippedRow(start, f"{len(row)} fields, but the header has {self.width}")
                continue
            yield self._submission(row[0], {qid: row[index] if index < len(row) else ""
                                            for index, qid in self._indices}, start)

    def _submission(self, student: Any, answers: dict[str, Any], line: int) -> Submission | SkippedRow:
        student = answer_text(student)
        if not student:
            return SkippedRow(line, "no student name")
        texts = {}
        for qid, value in {"student": student, **answers}.items():
            text = answer_text(value)
            if len(text) > MAX_CELL_CHARS:
                return SkippedRow(line, f"the {'name' if qid == 'student' else 'answer to ' + repr(qid)} "
                                  f"has {len(text):,} characters, more than {MAX_CELL_CHARS:,}")
            surrogate = _SURROGATE.search(text) or _SURROGATE.search(qid)
            if surrogate:
                return SkippedRow(line, f"holds a lone surrogate (\\u{ord(surrogate.group()):04x}), "
                                  "which is not text")
            texts[qid] = text
        del texts["student"]
        return Submission(student, texts, line)

    def _jsonl_rows(self) -> Iterator[Submission | SkippedRow]:
        for text in self.lines:
            line = self.lines.number
            if self.lines.problem:
                yield SkippedRow(line, self.lines.problem)
                self.lines.problem = None
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text, parse_float=str, parse_int=str, parse_constant=str,
                                    object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as error:
                yield SkippedRow(line, f"not JSON ({error.msg} at column {error.colno})")
                continue
            except RecursionError:
                yield SkippedRow(line, "nested too deeply to read")
                continue
            except ValueError as error:                     # a repeated key
                yield SkippedRow(line, str(error))
                continue
            if (not isinstance(record, dict) or not isinstance(record.get("student"), str)
                    or not isinstance(record.get("answers"), dict)):
                yield SkippedRow(line, 'expected {"student": ..., "answers": {id: value}}')
                continue
            unknown = [qid for qid in record["answers"] if not _known(self.check_id, qid)]
            if unknown:
                yield SkippedRow(line, _unknown_reason(self.check_id, unknown[0]))
                continue
            yield self._submission(record["student"], record["answers"], line)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {visible(key)!r} appears twice in one object")
        result[key] = value
    return result


def _known(check_id: Callable[[str], Any], qid: str) -> bool:
    try:
        check_id(qid)
    except BpcalcError:
        return False
    return True


def _unknown_reason(check_id: Callable[[str], Any], qid: str) -> str:
    try:
        check_id(qid)
    except BpcalcError as error:
        return visible(error)
    return f"no question {visible(qid)!r}"      # pragma: no cover


def read_submissions(path: str, check_id: Callable[[str], Any] = lambda qid: None
                     ) -> Iterator[Submission | SkippedRow]:
    """Rows of a .csv or .jsonl file; malformed rows come out as SkippedRow.

    ``check_id`` raises for an unknown question id: fatal in a CSV header (every row
    would fail), a skipped row in JSON Lines."""
    with SubmissionFile(path, check_id) as submissions:
        yield from submissions


def question_ids(grader: Grader, columns: list[str] | None, all_questions: bool = False) -> list[str]:
    """The questions every student is graded on: the CSV header's columns, or all of the
    problem's questions (JSON Lines, or ``--all-questions``) and then any other columns."""
    if columns is not None and not all_questions:
        return list(columns)
    ids = [qid for qid in grader.problem_question_ids]
    return ids + [qid for qid in columns or () if qid not in ids]


# ---------------------------------------------------------------- grading

def grade_submissions(grader: Grader, rows: Iterable[Submission | SkippedRow],
                      progress: Callable[[], None] | None = None, *,
                      ids: list[str] | None = None, sink: "ReportWriter | None" = None) -> BatchReport:
    """Grade every submission on the same questions (``ids``: by default the problem's
    questions and every id a row answers). A blank or missing answer is graded as
    unanswered; the first row of a student counts and a later one is skipped; results go
    to ``sink`` as they come (else they are kept in the report)."""
    rows = list(rows) if ids is None else rows
    if ids is None:
        ids = list(grader.problem_question_ids)
        for row in rows:
            if isinstance(row, Submission):
                ids += [qid for qid in row.answers if qid not in ids]
    keep = sink is None
    report = BatchReport(question_ids=list(ids))
    seen: dict[str, int] = {}
    for row in rows:
        if progress:
            progress()
        if isinstance(row, Submission):
            if row.student in seen:
                row = SkippedRow(row.line, f"student {visible(row.student)!r} again (first on line "
                                 f"{seen[row.student]}): only the first row of a student is graded")
            else:
                try:
                    result = StudentResult(row.student, [grader.grade(qid, row.answers.get(qid, ""))
                                                         for qid in ids], row.line)
                except BpcalcError as error:
                    row = SkippedRow(row.line, visible(error))
                else:
                    seen[row.student] = row.line
                    report.add(result, keep)
                    if sink is not None:
                        sink.add_student(result)
                    continue
        report.skip(row, keep)
        if sink is not None:
            sink.add_skipped(row)
    return report


# ---------------------------------------------------------------- writing

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class ReportWriter:
    """Writes a report (JSON or CSV, by extension) to ``.NAME.bpcalc-partial-<pid>-…`` in the
    target's folder, student by student, then renames it over the target.

    Refuses a target that is one of ``inputs``; keeps an existing report's permissions
    (a new one gets 0666 less the umask, like any file the user creates); removes the
    leftovers of earlier runs that were killed. Use as a context manager: leaving it
    without :meth:`finish` removes the partial file and leaves the old report intact."""

    def __init__(self, path: str, *, inputs: Iterable[str] = (), digits: int = 6) -> None:
        self.path, self.digits = path, digits
        if path.endswith(".csv"):
            self.kind = "csv"
        elif path.endswith(".json"):
            self.kind = "json"
        else:
            raise AnswerError(f"{visible(path)}: the report must be a .json or .csv file")
        target = os.path.abspath(path)
        self.folder, self.name = os.path.dirname(target), os.path.basename(target)
        if not os.path.isdir(self.folder):
            raise AnswerError(f"{visible(path)}: the folder {visible(self.folder)} does not exist")
        if os.path.lexists(target) and not os.path.isfile(target):
            raise AnswerError(f"{visible(path)}: exists and is not a regular file; "
                              "choose another name for the report")
        for source in inputs:
            if same_file(path, source) or os.path.realpath(path) == os.path.realpath(source):
                raise AnswerError(f"{visible(path)}: that is one of the input files "
                                  f"({visible(source)}); write the report to another file")
        self.temporary: str | None = None
        self.handle: TextIO | None = None
        self.skipped_spool: Any = None
        self.students = 0
        self._cache: dict[Grade, Any] = {}

    # -- the partial file
    def _prefix(self) -> str:
        return f".{self.name}{PARTIAL}"

    def clean_leftovers(self) -> list[str]:
        """Remove partial reports of this name left by runs that no longer exist."""
        removed = []
        try:
            names = os.listdir(self.folder)
        except OSError:
            return removed
        for name in names:
            if not name.startswith(self._prefix()):
                continue
            pid = name[len(self._prefix()):].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and _process_alive(int(pid)):
                continue                                    # another run is writing it now
            leftover = os.path.join(self.folder, name)
            try:
                if stat.S_ISREG(os.lstat(leftover).st_mode):
                    os.unlink(leftover)
                    removed.append(leftover)
            except OSError:
                continue
        return removed

    def __enter__(self) -> "ReportWriter":
        self.clean_leftovers()
        try:
            descriptor, self.temporary = tempfile.mkstemp(prefix=f"{self._prefix()}{os.getpid()}-",
                                                          dir=self.folder)
        except OSError as error:
            raise AnswerError(f"{visible(self.path)}: cannot write the report ({error.strerror})") from None
        self.handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
        if self.kind == "csv":
            self.csv = csv.writer(self.handle)
            self.csv.writerow(CSV_COLUMNS)
        else:
            self.handle.write('{\n  "students": [')
            self.skipped_spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.folder)
        return self

    def add_student(self, result: StudentResult) -> None:
        """Append one student; each distinct grade is serialised once (a class repeats them)."""
        if self.kind == "csv":
            lead = [_cell(result.student), str(result.score), str(result.total)]
            self.csv.writerows([*lead, *self._serialised(grade)] for grade in result.grades)
        else:
            answers = ", ".join(self._serialised(grade) for grade in result.grades)
            answered = sum(not grade.unanswered for grade in result.grades)
            entry = (f'{{"student": {json.dumps(result.student, ensure_ascii=False)}, "line": {result.line}, '
                     f'"score": {result.score}, "total": {result.total}, "answered": {answered}, '
                     f'"answers": [{answers}]}}')
            self.handle.write(("\n    " if not self.students else ",\n    ") + entry)
        self.students += 1

    def _serialised(self, grade: Grade) -> Any:
        text = self._cache.get(grade)
        if text is None:
            if len(self._cache) >= 50_000:
                self._cache.clear()
            if self.kind == "csv":
                text = _csv_cells(grade, self.digits)
            else:
                text = json.dumps(grade.to_dict(self.digits), ensure_ascii=False)
            self._cache[grade] = text
        return text

    def add_skipped(self, row: SkippedRow) -> None:
        if self.skipped_spool is not None:
            self.skipped_spool.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")

    def finish(self, report: BatchReport) -> None:
        """Complete the file and rename it over the target (atomically)."""
        assert self.handle is not None and self.temporary is not None
        try:
            if self.kind == "json":
                self._json_tail(report)
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.chmod(self.temporary, self._mode())
            os.replace(self.temporary, self.path)
        except OSError as error:
            raise AnswerError(f"{visible(self.path)}: cannot write the report "
                              f"({error.strerror or error})") from None
        self.temporary = None

    def _json_tail(self, report: BatchReport) -> None:
        handle = self.handle
        handle.write("\n  ]," if self.students else "],")
        for key, value in report.tail().items():
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            handle.write(f"\n  {json.dumps(key)}: {text},")
        handle.write('\n  "skipped": [')
        self.skipped_spool.seek(0)
        for number, line in enumerate(self.skipped_spool):
            handle.write(("\n    " if not number else ",\n    ") + line.rstrip("\n"))
        handle.write("\n  ]\n}\n" if report.skipped_count else "]\n}\n")

    def _mode(self) -> int:
        try:
            return stat.S_IMODE(os.stat(self.path).st_mode)
        except OSError:
            return 0o666 & ~_umask()

    def __exit__(self, *exc: Any) -> None:
        for handle in (self.handle, self.skipped_spool):
            if handle is not None and not handle.closed:
                handle.close()
        if self.temporary is not None:
            try:
                os.unlink(self.temporary)
            except OSError:
                pass
            self.temporary = None


def _csv_cells(grade: Grade, digits: int) -> list[str]:
    """The CSV report cells of one answer, from ``question`` to ``diagnosis``."""
    expected = grade.expected
    return [_cell(value) for value in (
        grade.id, grade.given, grade.correct, grade.unanswered,
        repr(expected) if isinstance(expected, float) else expected or "",
        grade.expected_text(digits) or "", grade.message, grade.diagnosis or "")]


def _cell(value: Any) -> str:
    """A CSV report cell: control characters shown, spreadsheet formulas made inert."""
    return spreadsheet_safe(visible(value))


def write_report(report: BatchReport, path: str, *, digits: int = 6, inputs: Iterable[str] = ()) -> None:
    """Write a report kept in memory (``grade_submissions`` without a sink) atomically."""
    with ReportWriter(path, inputs=inputs, digits=digits) as writer:
        for result in report.students:
            writer.add_student(result)
        for row in report.skipped:
            writer.add_skipped(row)
        writer.finish(report)
