"""Reading inputs: regular files only, bounded, and user text made inert for each format."""

from __future__ import annotations

import os
import threading

import pytest

from bpcalc.errors import FileError
from bpcalc.files import open_text, read_text, same_file
from bpcalc.usertext import markdown_escape, spreadsheet_safe, visible


def test_reads_a_small_text_file_and_drops_a_bom(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"\xef\xbb\xbfinput: 3\n")
    assert read_text(path, "a YAML problem file", 100) == "input: 3\n"


@pytest.mark.parametrize("make, words", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: os.mkfifo(p), "is a FIFO"),
])
def test_refuses_what_is_not_a_regular_file(tmp_path, make, words):
    path = tmp_path / "x"
    make(path)
    with pytest.raises(FileError, match=words):
        read_text(path, "a YAML problem file", 100)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(
        pytest.raises(FileError, read_text, path, "a file", 100)), daemon=True)
    worker.start()
    worker.join(2)
    assert outcome, "reading a FIFO blocked"


def test_a_device_is_refused():
    with pytest.raises(FileError, match="character device"):
        read_text("/dev/zero", "a YAML problem file", 100)


def test_size_limit_and_encoding_are_one_line_errors(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"x" * 101)
    with pytest.raises(FileError, match="larger than 100 bytes"):
        read_text(big, "a file", 100)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"title: caf\xe9\n")
    with pytest.raises(FileError, match=r"not UTF-8 text \(byte 11, line 1\)"):
        read_text(latin, "a file", 100)
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"a: 1\nb: \x00\n")
    with pytest.raises(FileError, match="line 2: contains a NUL byte"):
        read_text(nul, "a file", 100)


def test_a_file_name_with_control_characters_is_shown_escaped(tmp_path):
    path = tmp_path / "bad\x1b[2J\nname.yaml"
    with pytest.raises(FileError) as caught:
        read_text(path, "a file", 100)
    message = str(caught.value)
    assert "\x1b" not in message and "\n" not in message and "\\x1b[2J\\nname.yaml" in message


def test_open_text_streams_and_reports_its_position(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbfstudent,q\r\nann,1\r\n")
    with open_text(path, "submissions") as stream:
        assert stream.readline() == "student,q\r\n"
        assert stream.size == path.stat().st_size
        stream.read()
        assert stream.position == stream.size


def test_same_file_sees_through_spelling(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("x")
    monkeypatch.chdir(tmp_path)
    assert same_file("r.csv", str(tmp_path / "." / "r.csv"))
    assert not same_file("r.csv", "missing.csv")


@pytest.mark.parametrize("text, shown", [
    ("plain title", "plain title"),
    ("\x1b[2Jcleared", "\\x1b[2Jcleared"),
    ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
    ("two\nlines", "two\\nlines"),
    ("rtl\u202eoverride", "rtl\\u202eoverride"),
    ("\x9bcsi", "\\x9bcsi"),
])
def test_visible_escapes_control_characters(text, shown):
    assert visible(text) == shown


def test_visible_can_keep_newlines():
    assert visible("a\nb\x1b", keep="\n") == "a\nb\\x1b"


@pytest.mark.parametrize("cell, safe", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("@SUM(1)", "'@SUM(1)"),
    ("-2+3", "'-2+3"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("\uff1d1+1", "'\uff1d1+1"),
    ("-0.004", "-0.004"),
    ("+2.5e-3", "+2.5e-3"),
    ("2.081", "2.081"),
    ("Ann", "Ann"),
    ("", ""),
])
def test_spreadsheet_safe_neutralises_formulas_but_not_numbers(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_markdown_escape_keeps_html_and_markup_inert():
    text = markdown_escape("<img src=x onerror=alert(1)> *bold* [link](http://x) a & b")
    assert "<" not in text and "&lt;img" in text and "&amp;" in text
    assert "\\*bold\\*" in text and "\\[link\\]" in text
