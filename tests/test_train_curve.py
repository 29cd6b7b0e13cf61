"""The loss curve of `bpcalc train`: drawn in the terminal (--plot), written as CSV, PNG
or SVG (--output), and a missing matplotlib named with its install command."""

from __future__ import annotations

import csv
import io
import itertools
import sys

import pytest
from click.testing import CliRunner
from clitools import ROOT

from bpcalc.cli import main
from bpcalc.problem import load
from bpcalc.render.curve import terminal_curve
from bpcalc.training import TrainSettings, train

MAZUR = str(ROOT / "problems" / "mazur_2_2_2.yaml")
MAZUR_TEXT = (ROOT / "problems" / "mazur_2_2_2.yaml").read_text(encoding="utf-8")
BRAILLE = range(0x2800, 0x2900)


def _dots(line: str) -> list[int]:
    """The column of each Braille character that has a dot."""
    return [i for i, ch in enumerate(line) if ord(ch) in BRAILLE and ord(ch) != 0x2800]


def test_the_drawing_falls_where_the_loss_falls():
    steps = list(range(101))
    losses = [1.0 - k / 100 * 0.9 for k in steps]          # linear from 1 to 0.1: no log scale
    lines = terminal_curve(steps, losses, width=60, height=8).splitlines()
    assert lines[0] == "loss"
    rows = lines[1:9]
    assert rows[0].lstrip().startswith("1┤") and rows[-1].lstrip().startswith("0.1┤")
    firsts = [min(_dots(row)) for row in rows if _dots(row)]
    assert len(firsts) == 8 and firsts == sorted(firsts)    # every row drawn, left to right going down
    assert all(len(line) <= 60 for line in lines)
    assert lines[-2] == " " * 4 + "└" + "─" * 54            # the step axis under the plot
    assert lines[-1].split() == ["0", "step", "100"]


def test_a_curve_over_decades_is_drawn_on_a_log_scale():
    steps = list(range(0, 1001, 10))
    losses = [0.3 * 0.99 ** k for k in steps]
    text = terminal_curve(steps, losses, width=80, height=10)
    assert text.splitlines()[0] == "loss (log scale)"
    # an exponential decay is a straight line on a log scale: the middle point sits mid-height
    rows = text.splitlines()[1:11]
    middle = next(i for i, row in enumerate(rows) if any(c >= 36 for c in _dots(row)))
    assert 3 <= middle <= 6


def test_flat_and_single_point_curves_draw():
    assert "loss" in terminal_curve([0], [0.5])
    assert "loss" in terminal_curve([0, 1, 2], [2.0, 2.0, 2.0])


def test_plot_after_the_tables(tmp_path):
    out = CliRunner().invoke(main, ["train", MAZUR, "--steps", "2000", "--plot"])
    assert out.exit_code == 0, out.output
    assert out.output.index("Final outputs") < out.output.index("loss (log scale)")
    assert out.output.rstrip().endswith("2,000") and "step" in out.output.rstrip().splitlines()[-1]


def test_plot_needs_the_text_format():
    out = CliRunner().invoke(main, ["train", MAZUR, "--steps", "5", "--plot", "--format", "json"])
    assert out.exit_code == 2 and "--output curve.csv" in out.output


def test_output_csv_is_every_step_at_full_precision(tmp_path):
    target = tmp_path / "curve.csv"
    out = CliRunner().invoke(main, ["train", MAZUR, "--steps", "40", "--output", str(target), "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0] == ["step", "loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(41))
    run = train(load(MAZUR), TrainSettings(steps=40))
    assert [float(r[1]) for r in rows[1:]] == run.losses.tolist()      # repr round-trips exactly
    assert float(rows[2][1]) == pytest.approx(0.291028, abs=5e-7)      # Mazur's loss after one update


def test_long_runs_record_at_most_ten_thousand_curve_points(tmp_path):
    target = tmp_path / "curve.csv"
    out = CliRunner().invoke(main, ["train", MAZUR, "--steps", "25000", "--output", str(target)])
    assert out.exit_code == 0, out.output
    steps = [int(r.split(",")[0]) for r in target.read_text(encoding="utf-8").splitlines()[1:]]
    assert steps[0] == 0 and steps[-1] == 25000 and len(steps) <= 10_001
    assert len({b - a for a, b in itertools.pairwise(steps[:-1])}) == 1


@pytest.mark.parametrize("extension, magic", [("png", b"\x89PNG\r\n\x1a\n"), ("svg", b"<?xml")])
def test_png_and_svg_through_matplotlib(tmp_path, extension, magic):
    pytest.importorskip("matplotlib")
    target = tmp_path / f"curve.{extension}"
    hostile = tmp_path / "t.yaml"
    hostile.write_text(MAZUR_TEXT.replace(
        "title:", "title: '$\\\\frac{1}{0}$ <b>&' #", 1), encoding="utf-8")
    out = CliRunner().invoke(main, ["train", str(hostile), "--steps", "100", "-o", str(target)])
    assert out.exit_code == 0, out.output
    data = target.read_bytes()
    assert data.startswith(magic)
    if extension == "svg":
        again = tmp_path / "again.svg"
        CliRunner().invoke(main, ["train", str(hostile), "--steps", "100", "-o", str(again)])
        assert again.read_bytes() == data                              # no date: the same bytes every run
        assert b"&lt;b&gt;&amp;" in data                                # the title is text, escaped


def test_missing_matplotlib_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    target = tmp_path / "curve.png"
    out = CliRunner().invoke(main, ["train", MAZUR, "--steps", "5", "--output", str(target)])
    assert out.exit_code == 2
    assert "pip install matplotlib" in out.output and out.output.count("\n") == 1
    assert not target.exists()


def test_output_with_another_extension_is_refused_before_training(tmp_path):
    out = CliRunner().invoke(main, ["train", MAZUR, "--steps", "5", "--output", str(tmp_path / "curve.pdf")])
    assert out.exit_code == 2 and ".csv, .png, .svg" in out.output


def test_output_never_overwrites_the_problem_file(tmp_path):
    copy = tmp_path / "p.csv"
    copy.write_text(MAZUR_TEXT, encoding="utf-8")
    out = CliRunner().invoke(main, ["train", str(copy), "--steps", "5", "--output", str(copy)])
    assert out.exit_code == 2
    assert copy.read_text(encoding="utf-8").startswith(MAZUR_TEXT[:20])
