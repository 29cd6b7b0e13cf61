"""The ``bpcalc`` command: thin Click commands over the core.

Each command parses its options, calls the core, and hands the result to a
renderer. Core errors (:class:`bpcalc.errors.BpcalcError`) become one line on
stderr and exit code 2. Heavy modules (NumPy, Rich) are imported inside the
commands, so ``bpcalc --help`` and ``--format json`` start quickly.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from typing import Any, Callable

import click

from . import __version__
from .errors import BpcalcError

EXIT_WRONG = 1


class BadInput(click.ClickException):
    """Bad input: one line on stderr, exit code 2 (ClickException alone exits 1)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        from .usertext import visible

        # The message quotes user text (a file name, a key, a formula): one line, no escapes.
        click.echo(f"bpcalc: error: {visible(self.format_message())}", err=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the core's BpcalcError into BadInput, once for every command."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BpcalcError as error:
            raise BadInput(str(error)) from None
        except RecursionError:
            raise BadInput("the input is nested too deeply to read") from None

    return wrapper


def format_options(*formats: str, digits: int = 6) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` (first choice is the default) and ``--precision``, shared by commands."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--precision", "-p", type=click.IntRange(1, 17), default=digits, show_default=True,
            help="Significant digits shown (JSON always carries full precision).")(command)
        return click.option(
            "--format", "-f", "fmt", type=click.Choice(formats), default=formats[0], show_default=True,
            help="Output format: " + ", ".join(formats) + ".")(command)

    return decorate


# JSON escapes C0 controls itself; these it would write raw (a terminal may act on C1
# controls such as U+009B, CSI, and the bidi overrides reorder what is shown).
_JSON_RAW_CONTROLS = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def print_json(document: Any) -> None:
    try:
        text = json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise BadInput("the result holds a non-finite number, which JSON cannot carry") from None
    click.echo(_JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 80})
@click.version_option(__version__, "--version", "-V", prog_name="bpcalc")
def main() -> None:
    """A calculator and checker for back-propagation homework.

    Write the network of a homework question in a YAML problem file, then
    solve it, explain it step by step, or check your answers against it.

    \b
    Examples:
      bpcalc solve problems/simple_network.yaml
      bpcalc check problems/simple_network.yaml --answer dC_dw1=2.081
      bpcalc formula "a_k^(l-1)*delta_j^l"
      bpcalc verify problems/

    Run 'bpcalc COMMAND --help' for a command's options and examples.
    """


@main.command(short_help="Every z, a, δ, gradient and the SGD update, as tables.")
@click.argument("file")
@format_options("text", "json", "markdown")
@user_errors
def solve(file: str, fmt: str, precision: int) -> None:
    """Solve a problem file: forward pass, error terms δ, gradients and the SGD update.

    \b
    Examples:
      bpcalc solve problems/simple_network.yaml
      bpcalc solve problems/simple_network.yaml --format json
      bpcalc solve my_homework.yaml --format markdown --precision 4 > answers.md
    """
    from .problem import load
    from .solver import solve as run

    solution = run(load(file))
    if fmt == "json":
        print_json(solution.to_dict())
        return
    from .render.tables import graph_tables, solution_tables

    tables = (graph_tables if getattr(solution, "kind", None) == "graph" else solution_tables)(solution, precision)
    heading = solution.problem.title or file       # user text: each renderer makes it inert
    if fmt == "markdown":
        from .render.markdown import tables_markdown

        click.echo(tables_markdown(tables, heading), nl=False)
        return
    from .render.terminal import make_console, print_tables

    print_tables(tables, make_console(), heading)


@main.command(short_help="A picture of the solved problem: DOT, Mermaid, SVG or PNG.")
@click.argument("file")
@click.option("--format", "-f", "fmt", type=click.Choice(("dot", "mermaid", "markdown", "svg", "png")),
              default=None, help="dot (Graphviz source), mermaid (GitHub draws it), markdown (a "
              "```mermaid block), svg or png (need Graphviz's dot) [default: from --output's "
              "extension, else dot].")
@click.option("--output", "-o", metavar="FILE",
              help="Write to FILE (atomically) instead of stdout; .dot/.gv, .mmd/.mermaid, .md, .svg "
                   "or .png picks the format.")
@click.option("--precision", "-p", type=click.IntRange(1, 17), default=4, show_default=True,
              help="Significant digits of the numbers in the picture.")
@user_errors
def graph(file: str, fmt: str | None, output: str | None, precision: int) -> None:
    """Draw a problem after its backward pass: every node with its value and gradient.

    A computation graph shows each input, parameter and node (name, formula,
    value, ∂out/∂name), an edge from each name a node uses, labelled with the
    local derivative, and the output highlighted. A layered network shows the
    inputs, each neuron (z, a, δ, its bias and ∂C/∂b), each weight as an edge
    (w and ∂C/∂w) and the cost; a layer wider than 5 neurons makes it one box
    per layer with its shape. With up to 3 examples the per-example numbers
    are lists, with more those of example 1 (the title says which).

    \b
    Examples:
      bpcalc graph problems/simple_network.yaml
      bpcalc graph problems/mazur_2_2_2.yaml --format mermaid
      bpcalc graph problems/simple_network.yaml -o simple_network.svg
      bpcalc graph problems/tanh_2_3_1.yaml --format png > tanh.png
      bpcalc graph problems/simple_network.yaml | dot -Tpdf > simple_network.pdf
    """
    from .problem import load
    from .render.pictures import BINARY, choose_format, draw
    from .solver import solve as run

    chosen = choose_format(output, fmt)
    if output is None and chosen in ("svg", "png") and _stdout_is_terminal():
        raise BadInput(f"{chosen.upper()} is not for a terminal: write it to a file with --output "
                       f"picture.{chosen}, or pipe it (> picture.{chosen})")
    data = draw(run(load(file)), chosen, precision)
    if output is not None:
        from .files import write_atomic

        write_atomic(output, data, inputs=(file,))
    elif chosen in BINARY:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        click.echo(data.decode("utf-8"), nl=False)


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


@main.command(short_help="Prove the answer keys of problem files right.")
@click.argument("paths", nargs=-1, required=True)
@format_options("text", "json")
@user_errors
def verify(paths: tuple[str, ...], fmt: str, precision: int) -> None:
    """Check the answer keys ('expected:') of problem files against the solver.

    PATHS are problem files or directories (searched for *.yaml). Every file is
    checked, even after a broken one. Exit code 0 when every key is right, 1
    when an answer disagrees with the solver, 2 when a file cannot be loaded.

    \b
    Examples:
      bpcalc verify problems/
      bpcalc verify problems/simple_network.yaml --format json
    """
    from .verify import verify as run

    from .usertext import visible

    report = run(paths)
    if not report.files:
        raise BadInput("no problem files (*.yaml) found in " + ", ".join(paths))
    if fmt == "json":
        from .render.reports import verify_document

        print_json(verify_document(report))
    else:
        from .render.reports import verify_summary, verify_tables
        from .render.terminal import make_console, print_tables

        print_tables(verify_tables(report, precision), make_console())
        click.echo(verify_summary(report))
        for broken in report.files:
            for line in broken.errors():
                click.echo(f"bpcalc: error: {visible(line)}", err=True)
    sys.exit(report.exit_code)


@main.command(short_help="Show how a formula is read, and evaluate it.",
              context_settings={"ignore_unknown_options": True})
@click.argument("text")
@click.argument("assignments", nargs=-1, metavar="[NAME=VALUE]...")
@format_options("text", "json", "latex")
@user_errors
def formula(text: str, assignments: tuple[str, ...], fmt: str, precision: int) -> None:
    """Show how bpcalc reads a formula typed in the course grader's syntax.

    Prints the formula fully parenthesized, rendered in Unicode (or LaTeX), the
    variables it uses, and its value when every variable is given. Use it to
    see what the grader will read before you submit.

    \b
    Syntax: + - * / and ^ (or **) for powers, right-associative (2^3^2 = 512);
      -2^2 = -4; names are a letter then letters, digits and _ (w_1, delta_j);
      a_k^(l-1) is the variable a_k to the power l-1; w_(jk) is the name w_jk;
      1e-3, 5% = 0.05; e, pi; sqrt exp ln log10 log2
      abs fact sin cos tan ... sinh ... arcsin ...; sigma (σ), relu, softplus.
      Write 2*x, not 2x.

    \b
    Examples:
      bpcalc formula "a_k^(l-1)*delta_j^l" a_k=0.03 delta_j=-0.1387 l=2
      bpcalc formula "sigma(z)*(1-sigma(z))" z=-1.15
      bpcalc formula "w_1 - eta*partialC/partialw_1" --format latex
    """
    from .formula import describe

    values = {}
    for pair in assignments:
        name, equals, number = pair.partition("=")
        try:
            values[name.strip()] = float(number) if equals and name.strip() else None
        except ValueError:
            values[name.strip()] = None
        if values[name.strip()] is None:
            raise BadInput(f"{pair!r}: expected NAME=NUMBER, e.g. a_k=0.03")
    description = describe(text, values)
    if fmt == "json":
        print_json(description.to_dict())
        return
    if fmt == "latex":
        click.echo(description.latex)
        return
    from .render.formulas import print_formula

    print_formula(description, precision)


@main.command(short_help="A derivation step by step, in the course's notation.")
@click.argument("file")
@click.option("--param", metavar="NAME",
              help="Only the chain rule that ∂C/∂NAME needs (a parameter name of the problem, e.g. w2).")
@click.option("--scalars/--no-scalars", default=None,
              help="Write every scalar entry after each vector/matrix form "
                   "[default: on when no layer has more than 5 neurons].")
@click.option("--step", "stepwise", is_flag=True,
              help="One step at a time: Enter for the next, b back, q to quit. "
                   "Without a terminal, prints every step and does not wait.")
@click.option("--concepts", is_flag=True,
              help="The course's concept questions answered from this network: the four equations, "
                   "why BP2 uses the transpose and f′, and σ′ shrinking as |z| grows.")
@click.option("--standalone", is_flag=True,
              help="With --format latex: a whole document for pdflatex, not only the align* environments.")
@format_options("text", "markdown", "latex", "json", digits=4)   # a derivation reads best at 4 digits
@user_errors
def explain(file: str, param: str | None, scalars: bool | None, stepwise: bool, concepts: bool,
            standalone: bool, fmt: str, precision: int) -> None:
    """Explain a problem file step by step: forward pass, δ (BP1, BP2), gradients (BP3,
    BP4) and the SGD update, each as the general equation, the same equation with the
    problem's numbers put in, and the result.

    Activation derivatives are spelled out where first used, and warnings point at a
    saturated activation, a dead neuron, or a δ that vanishes or explodes across layers.
    Numbers are shown to 4 significant digits unless --precision says otherwise, and
    with more where a step needs them: redoing any step by hand with the numbers it
    shows gives its result to the last digit shown (≈ marks a rounded result).

    \b
    Examples:
      bpcalc explain problems/simple_network.yaml
      bpcalc explain problems/simple_network.yaml --param w2     (why is my ∂C/∂w2 wrong?)
      bpcalc explain problems/mazur_2_2_2.yaml --no-scalars --step
      bpcalc explain problems/simple_network.yaml --concepts
      bpcalc explain problems/tanh_2_3_1.yaml --format markdown > tanh.md
      bpcalc explain problems/simple_network.yaml --format latex --standalone > sn.tex
    """
    if concepts and param:
        raise BadInput("--concepts and --param answer different questions; use one of them")
    if standalone and fmt != "latex":
        raise BadInput("--standalone only applies to --format latex")
    if stepwise and fmt != "text":
        raise BadInput(f"--step pages the text output; it cannot be combined with --format {fmt}")
    from .derivation import concepts as concept_questions
    from .derivation import derive
    from .problem import load
    from .solver import solve as run

    solution = run(load(file))
    if concepts and getattr(solution, "kind", None) == "graph":
        raise BadInput("--concepts answers the course's questions about layered networks; "
                       f"{file} is a computation graph (try --param NAME)")
    if concepts:
        derivation = concept_questions(solution.problem, solution, digits=precision)
    else:
        derivation = derive(solution.problem, solution, scalars=scalars, param=param, digits=precision)
    if fmt == "json":
        print_json(derivation.to_dict())
        return
    if fmt in ("markdown", "latex"):
        from .render.derivation import render_latex, render_markdown

        if fmt == "markdown":
            click.echo(render_markdown(derivation), nl=False)
        else:
            click.echo(render_latex(derivation, standalone=standalone), nl=False)
        return
    from .render.terminal import make_console

    console = make_console()
    if stepwise:
        from .render.stepper import page

        page(derivation, console)
    else:
        from .render.derivation import print_text

        print_text(derivation, console)


def _answer_pairs(pairs: tuple[str, ...]) -> list[tuple[str, str]]:
    answers = []
    for pair in pairs:
        qid, equals, value = pair.partition("=")
        if not equals or not qid.strip():
            raise BadInput(f"--answer {pair!r}: expected ID=VALUE, e.g. --answer dC_dw1=2.081")
        answers.append((qid.strip(), value.strip()))
    return answers


ANSWERS_FILE = "an answers file (YAML mapping question ids to answers, e.g. 'dC_dw1: 2.081')"


def _answers_file(path: str) -> tuple[list[tuple[str, Any]], dict]:
    """The (id, answer) pairs of a YAML answers file, and the line of each id."""
    from .errors import AnswerError, ProblemFileError
    from .files import MAX_ANSWERS_BYTES, read_text
    from .problem import parse_yaml
    from .usertext import visible

    text = read_text(path, ANSWERS_FILE, MAX_ANSWERS_BYTES)
    if not any(line.strip() and not line.lstrip().startswith(("#", "---", "...")) for line in text.splitlines()):
        raise AnswerError(f"{visible(path)}: the answers file is empty; expected a mapping of question "
                          "ids to answers, e.g. 'dC_dw1: 2.081'")
    try:
        document, lines = parse_yaml(text, path)
    except ProblemFileError as error:
        where = visible(path) + "".join(f":{n}" for n in (error.line, error.column) if n is not None)
        raise AnswerError(f"{where}: the answers file is not valid: {error.detail}") from None
    if not isinstance(document, dict):
        raise AnswerError(f"{visible(path)}: the answers file must be a mapping of question ids to answers, "
                          "e.g. 'dC_dw1: 2.081'")
    return [(str(qid), value) for qid, value in document.items()], lines


@main.command(short_help="Grade your answers; say which mistake a wrong one matches.")
@click.argument("file")
@click.option("--answer", "-a", "pairs", multiple=True, metavar="ID=VALUE",
              help="An answer to grade (repeatable). ID is a question id or a solution path.")
@click.option("--answers", "answers_path", metavar="FILE",
              help="A YAML file mapping question ids to answers.")
@format_options("text", "json")
@user_errors
def check(file: str, pairs: tuple[str, ...], answers_path: str | None, fmt: str, precision: int) -> None:
    """Grade your answers to a problem's questions, and say which mistake a wrong one matches.

    Without answers, on a terminal, asks each question in turn. IDs are the
    question ids of the problem file; any solution path (gradients.w1,
    updated.b, layers[2].delta[0]) can be checked too. A number is right
    within 0.1 % or correctly rounded to what you wrote (3 decimals or 3
    significant digits at least, one of them not zero); arithmetic such as
    -0.1387*0.03 is graded as the number it is. Exit code 0 when all are
    right, 1 otherwise.

    \b
    Examples:
      bpcalc check problems/simple_network.yaml --answer dC_dw1=2.081 --answer dC_dw2=-0.139
      bpcalc check problems/simple_network.yaml --answer "dC_dwjk=a_k^(l-1)*delta_j^l"
      bpcalc check problems/simple_network.yaml --answers my_answers.yaml --format json
      bpcalc check problems/simple_network.yaml -a updated.w1=-0.19809166 -p 10
      bpcalc check problems/simple_network.yaml          (interactive)
    """
    from .errors import AnswerError
    from .grading import Grader
    from .problem import load
    from .usertext import visible

    grader = Grader(load(file))
    answers = _answer_pairs(pairs)
    if answers_path:
        from_file, lines = _answers_file(answers_path)
        for qid, _value in from_file:
            try:
                grader.question(qid)
            except AnswerError as error:
                line = lines.get((qid, "<key>"))
                where = visible(answers_path) + (f":{line[0]}:{line[1]}" if line else "")
                raise AnswerError(f"{where}: {error}") from None
        answers += from_file
    if not answers:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise BadInput("no answers given: use --answer ID=VALUE or --answers FILE "
                           f"(questions: {', '.join(grader.problem_question_ids) or 'none'})")
        from .render.interactive import ask_questions

        sys.exit(0 if ask_questions(grader, precision) else EXIT_WRONG)
    for qid, _value in answers:
        grader.question(qid)          # unknown ids are bad input, before anything is printed
    grades = [grader.grade(qid, value) for qid, value in answers]
    if fmt == "json":
        print_json([grade.to_dict(precision) for grade in grades])
    else:
        from .render.grades import grade_table
        from .render.terminal import make_console, print_tables

        numeric = any(grader.question(qid).kind == "numeric" for qid, _value in answers)
        print_tables([grade_table(grades, numeric, precision)], make_console())
    sys.exit(0 if all(grade.correct for grade in grades) else EXIT_WRONG)


@main.command(short_help="Prove the gradients by centred finite differences.")
@click.argument("file")
@click.option("--compare", "compare_path", metavar="ANSWERS",
              help="A YAML file mapping parameter names (or gradients.NAME) to your gradient values, "
              "checked against the numeric ones instead of bpcalc's.")
@format_options("text", "json")
@user_errors
def gradcheck(file: str, compare_path: str | None, fmt: str, precision: int) -> None:
    """Check every gradient by centred finite differences of the loss.

    For each weight and bias (fixed ones too) of a network, or each input
    and parameter of a computation graph: (C(w+h) − C(w−h)) / 2h with
    h = ε^(1/3)·max(1, |w|) against back-propagation's ∂C/∂w. Relative
    error below 1e-7 is good, up to 1e-4 doubtful, above wrong; where a
    relu, abs or max has its kink within h the verdict is "at a kink".
    Exit code 0 when all agree, 1 otherwise.

    \b
    Examples:
      bpcalc gradcheck problems/mazur_2_2_2.yaml
      bpcalc gradcheck problems/cs231n_staged.yaml --format json
      bpcalc gradcheck problems/simple_network.yaml --compare my_gradients.yaml
    """
    from .errors import AnswerError
    from .gradcheck import gradient_check
    from .problem import load
    from .usertext import visible

    problem = load(file)
    compare = None
    if compare_path:
        pairs, lines = _answers_file(compare_path)
        compare = dict(pairs)
        try:
            result = gradient_check(problem, compare)
        except AnswerError as error:
            key = str(error).partition(":")[0]
            line = lines.get((key, "<key>"))
            where = visible(compare_path) + (f":{line[0]}:{line[1]}" if line else "")
            raise AnswerError(f"{where}: {error}") from None
    else:
        result = gradient_check(problem)
    if fmt == "json":
        print_json(result.to_dict())
    else:
        from .render.gradcheck import gradcheck_table
        from .render.terminal import make_console, print_tables

        print_tables([gradcheck_table(result, precision)], make_console(), problem.title or file)
    sys.exit(0 if result.ok else EXIT_WRONG)


@main.command(short_help="Grade a class's submissions into a report.")
@click.argument("file")
@click.argument("submissions")
@click.option("--output", "-o", required=True, metavar="REPORT",
              help="Where to write the report: .json or .csv (never one of the input files).")
@click.option("--all-questions", is_flag=True,
              help="Grade every question of the problem, also those the CSV has no column for "
                   "(unanswered). JSON Lines submissions are always graded on every question.")
@click.option("--precision", "-p", type=click.IntRange(1, 17), default=6, show_default=True,
              help="Significant digits of the expected values shown (the JSON report also "
                   "carries them at full precision).")
@user_errors
def grade(file: str, submissions: str, output: str, all_questions: bool, precision: int) -> None:
    """Grade a class's submissions (CSV or JSON Lines) and write a report.

    A CSV has a header 'student,<question id>,...' and one row per student; a
    JSON Lines file has one {"student": ..., "answers": {id: value}} per line.
    Every student is graded on the same questions (the CSV's columns, or all
    of the problem's), a blank or missing answer counting as wrong, so every
    score has the same total. A row that cannot be graded is reported with its
    line number and skipped; a student's second row is skipped (the first
    counts). The report (JSON or CSV, by extension) is written atomically.

    \b
    Examples:
      bpcalc grade problems/simple_network.yaml submissions.csv --output report.json
      bpcalc grade problems/simple_network.yaml submissions.jsonl -o report.csv
      bpcalc grade problems/simple_network.yaml subs.csv -o report.csv --all-questions
    """
    from .batch import ReportWriter, SubmissionFile, grade_submissions, question_ids
    from .grading import Grader
    from .problem import load
    from .usertext import visible

    grader = Grader(load(file))
    writer = ReportWriter(output, inputs=(file, submissions), digits=precision)
    jsonl = not submissions.endswith(".csv")
    if jsonl and submissions.endswith((".jsonl", ".ndjson")) and not grader.problem_question_ids:
        raise BadInput(f"{visible(file)}: the problem has no questions, which JSON Lines answers "
                       "need; grade a CSV whose header names solution paths instead")
    with SubmissionFile(submissions, grader.asked if jsonl else grader.question) as rows:
        ids = question_ids(grader, rows.columns, all_questions)
        from .render.grades import reading_progress
        from .render.terminal import make_console

        console = make_console()
        with writer, reading_progress(console, rows.size) as update:
            counter = iter(range(1 << 62))
            report = grade_submissions(grader, rows, lambda: next(counter) % 64 or update(rows.position),
                                       ids=ids, sink=writer)
            writer.finish(report)
    from .render.grades import batch_tables
    from .render.terminal import print_tables

    print_tables(batch_tables(report), console)
    click.echo(f"Report written to {visible(output)}.")


@main.command(short_help="Print the JSON Schema of problem files, for editors.")
@click.option("--output", "-o", metavar="FILE",
              help="Write the schema to FILE (replaced atomically) instead of printing it.")
@user_errors
def schema(output: str | None) -> None:
    """Print the JSON Schema (draft 2020-12) of problem files, layered and graph alike.

    Editors that use the YAML language server (VS Code's YAML extension, Neovim,
    Helix, …) then check and complete a problem file that starts with

    \b
      # yaml-language-server: $schema=./bpcalc.schema.json

    (bpcalc new writes that line). The schema refuses unknown keys, unknown
    activations and losses, and text where numbers belong; shapes and the other
    checks that need the whole file are left to bpcalc solve.

    \b
    Examples:
      bpcalc schema --output bpcalc.schema.json
      bpcalc schema > homework/bpcalc.schema.json
    """
    from .schema import problem_schema

    document = problem_schema()
    if output is None:
        print_json(document)
        return
    from .files import write_atomic
    from .usertext import visible

    write_atomic(output, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    click.echo(f"Schema written to {visible(output)}.")


@main.command(short_help="Write a commented starting problem file that solves as written.")
@click.argument("file")
@click.option("--layers", "sizes", metavar="SIZES",
              help="Layer sizes joined by '-', input first and output last, e.g. 2-3-1 "
                   "(a 2-input network with 3 hidden neurons and 1 output). Default 2-2-1.")
@click.option("--activation", metavar="NAME",
              help="Activation of every layer (sigmoid, tanh, relu, …; default sigmoid).")
@click.option("--output-activation", metavar="NAME",
              help="Activation of the output layer, if it differs (e.g. softmax).")
@click.option("--loss", metavar="NAME",
              help="Loss (half_squared_error, binary_cross_entropy, cross_entropy, …; "
                   "default half_squared_error).")
@click.option("--graph", is_flag=True,
              help="A computation graph instead (inputs, parameters, nodes as formulas).")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@user_errors
def new(file: str, sizes: str | None, activation: str | None, output_activation: str | None,
        loss: str | None, graph: bool, force: bool) -> None:
    """Write a commented problem file to start from; it solves as written.

    Every key has a comment saying what it means (weights: rows are this
    layer's neurons, columns its inputs, as in Nielsen's w^l_jk); the numbers
    are small and deterministic, the target suits the loss. Edit them to your
    homework's. FILE is never overwritten without --force.

    \b
    Examples:
      bpcalc new homework.yaml
      bpcalc new homework.yaml --layers 2-3-1 --activation sigmoid --loss binary_cross_entropy
      bpcalc new classify.yaml --layers 4-5-3 --activation relu --output-activation softmax --loss cross_entropy
      bpcalc new neuron.yaml --graph
    """
    from . import templates
    from .files import write_atomic
    from .usertext import visible

    if not force and os.path.lexists(file) and not os.path.isdir(file):
        raise BadInput(f"{visible(file)}: already exists; use --force to overwrite it")

    if graph:
        given = [option for option, value in (("--layers", sizes), ("--activation", activation),
                                               ("--output-activation", output_activation), ("--loss", loss))
                 if value is not None]
        if given:
            raise BadInput(f"{', '.join(given)}: a layered network's option(s); --graph writes a "
                           "computation graph (edit its nodes instead)")
        template = templates.graph(path=file)
    else:
        template = templates.layered(templates.parse_sizes(sizes or templates.DEFAULT_SIZES),
                                     activation or templates.DEFAULT_ACTIVATION,
                                     loss or templates.DEFAULT_LOSS, output_activation, path=file)
    write_atomic(file, templates.build(template, file).text.encode("utf-8"), overwrite=force)
    notes = "".join(f" Note: {note}." for note in template.notes)
    steps = ", ".join(command.format(file=visible(file)) for command in template.commands)
    click.echo(f"Wrote {visible(file)}: {template.summary}.{notes} Next: {steps}")


def _every(steps: int) -> int:
    """A round K (1, 2, 5, 10, 20, 50, …) that shows at most about 15 rows of the loss."""
    every = 1
    while steps / every > 15:
        every = every * 5 // 2 if str(every).startswith("2") else every * 2
    return every


@main.command(short_help="Many training steps with a torch.optim optimizer: the loss curve.")
@click.argument("file")
@click.option("--steps", "-n", type=int, help="Updates to take (default: the file's train.steps, else 100).")
@click.option("--optimizer", help="sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw "
              "(default: the file's, else sgd).")
@click.option("--learning-rate", "--lr", "learning_rate", type=float, help="η (default: the file's learning_rate).")
@click.option("--momentum", type=float, help="μ for momentum, nesterov (default 0.9) and rmsprop (default 0).")
@click.option("--betas", metavar="B1,B2", help="Adam's and AdamW's β1,β2 (default 0.9,0.999).")
@click.option("--eps", type=float, help="ε of adagrad (default 1e-10), rmsprop, adam, adamw (1e-8).")
@click.option("--alpha", type=float, help="RMSprop's smoothing constant α (default 0.99).")
@click.option("--weight-decay", type=float, help="λ: added to the gradient as λθ (decoupled for adamw) "
              "(default 0; adamw 0.01).")
@click.option("--batch-size", type=int, help="Examples per update (default: all of them).")
@click.option("--shuffle/--no-shuffle", default=None, help="Reshuffle the mini-batches every epoch "
              "(default: shuffle).")
@click.option("--seed", type=int, help="Seed of the per-epoch shuffle of the mini-batches (default 0).")
@click.option("--every", "-e", type=click.IntRange(1), help="Record the loss every K steps (first and last "
              "always) [default: text about 10-15 rows; json and csv every step].")
@click.option("--plot", is_flag=True, help="Draw the loss curve in the terminal, after the tables.")
@click.option("--output", "-o", metavar="FILE", help="Write the loss curve to FILE (atomically): .csv "
              "(step, loss), or .png / .svg (need matplotlib: pip install matplotlib).")
@format_options("text", "json", "csv")
@user_errors
def train(file: str, steps: int | None, optimizer: str | None, learning_rate: float | None,
          momentum: float | None, betas: str | None, eps: float | None, alpha: float | None,
          weight_decay: float | None, batch_size: int | None, shuffle: bool | None, seed: int | None,
          every: int | None, plot: bool, output: str | None, fmt: str, precision: int) -> None:
    """Train a problem for many steps and show the loss as it falls.

    A layered network minimises its loss C; a computation graph minimises its
    output (mean or sum over the examples), updating its parameters. The
    file's 'train:' settings (steps, optimizer, momentum, betas, eps, alpha,
    weight_decay, batch_size, shuffle, seed) are used; the options override
    them. Every optimizer takes torch.optim's update exactly. The loss at step
    k is the full-data loss after k updates (step 0: before any). 'fixed'
    parameters stay fixed.

    \b
    Examples:
      bpcalc train problems/mazur_2_2_2.yaml --steps 10000 --plot
      bpcalc train problems/mazur_2_2_2.yaml --steps 100 --optimizer momentum --momentum 0.9
      bpcalc train problems/mazur_2_2_2.yaml --steps 1000 --optimizer adam --learning-rate 0.01 --format json
      bpcalc train problems/mazur_2_2_2.yaml --steps 50 --format csv > steps.csv
      bpcalc train problems/mazur_2_2_2.yaml --steps 10000 --output curve.csv
      bpcalc train problems/logistic_regression_sum.yaml --steps 200
    """
    from .problem import load
    from .training import TrainSettings
    from .training import train as run

    curve_format = _curve_format(output)
    if plot and fmt != "text":
        raise BadInput(f"--plot draws in the terminal, next to the text tables; with --format {fmt} "
                       "write the curve to a file instead (--output curve.csv, .png or .svg)")
    problem = load(file)
    if learning_rate is not None and not learning_rate > 0:
        raise BadInput(f"--learning-rate: expected a positive number (η), got {learning_rate:g}")

    def fail(key: str, message: str) -> Exception:
        return BadInput(f"--{key.replace('_', '-')}: {message}")

    examples = problem.examples if getattr(problem, "kind", None) == "graph" else len(problem.inputs)
    settings = (problem.train or TrainSettings()).with_overrides(
        fail, examples, steps=steps, optimizer=optimizer, momentum=momentum, betas=_pair(betas),
        eps=eps, alpha=alpha, weight_decay=weight_decay, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if every is None:
        every = _every(settings.steps) if fmt == "text" else 1
    curve_every = None
    if plot or output:
        curve_every = max(1, -(-settings.steps // CURVE_POINTS))
    progress = None
    if fmt == "text" and settings.steps >= 20_000 and _stdout_is_terminal():
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("training", total=settings.steps)
        bar.start()
        progress = lambda done: bar.update(task, completed=done)
    try:
        result = run(problem, settings, learning_rate=learning_rate, every=every, curve_every=curve_every,
                     keep_parameters=fmt == "csv", progress=progress)
    finally:
        if progress is not None:
            bar.stop()
    if output is not None:
        _write_curve(result, file, output, curve_format, problem.title or file)
    if fmt == "json":
        print_json(result.to_dict())
        return
    if fmt == "csv":
        from .render.training import training_csv

        click.echo(training_csv(result), nl=False)
        return
    from .render.terminal import make_console, print_tables
    from .render.training import training_tables

    console = make_console()
    print_tables(training_tables(result, precision), console, problem.title or file)
    if plot:
        from .render.curve import terminal_curve

        curve_steps, curve_losses = result.curve
        click.echo(terminal_curve(curve_steps.tolist(), curve_losses.tolist(), width=min(console.width, 100)),
                   nl=False)


CURVE_POINTS = 10_000      # a curve records at most about this many steps


def _pair(text: str | None) -> list[float] | None:
    """``--betas 0.9,0.999`` as two numbers (the settings check their range)."""
    if text is None:
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2:
        raise BadInput(f"--betas: expected two numbers B1,B2 such as 0.9,0.999, got {text!r}")
    return values


def _curve_format(output: str | None) -> str | None:
    """The format of ``--output``'s file, from its extension (checked before training)."""
    if output is None:
        return None
    from .render.curve import CURVE_FORMATS
    from .usertext import visible

    extension = os.path.splitext(output)[1].lower().lstrip(".")
    if extension not in CURVE_FORMATS:
        raise BadInput(f"--output {visible(output)}: expected a file ending in "
                       f"{', '.join('.' + f for f in CURVE_FORMATS)} (the loss curve)")
    if extension != "csv":
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            from .render.curve import INSTALL

            raise BadInput(f"--output {visible(output)}: a {extension.upper()} curve needs matplotlib, "
                           f"which is not installed: {INSTALL}; or write --output curve.csv")
    return extension


def _write_curve(result: Any, file: str, output: str, fmt: str, title: str) -> None:
    from .files import write_atomic
    from .numbers import format_number
    from .render.curve import curve_csv, curve_image

    steps, losses = result.curve
    if fmt == "csv":
        data = curve_csv(steps.tolist(), losses.tolist())
    else:
        s = result.settings
        subtitle = (f"{s.optimizer}, η = {format_number(result.learning_rate, 4)}, {s.steps:,} steps, "
                    f"final loss {format_number(result.final_loss, 4)}")
        data = curve_image(steps.tolist(), losses.tolist(), fmt, title, subtitle)
    write_atomic(output, data, inputs=(file,))


if __name__ == "__main__":  # pragma: no cover
    main()
