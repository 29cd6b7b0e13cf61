"""Reading input files: only regular files, never more than a stated number of bytes.

Every file bpcalc reads (a problem, an answers file, a class's submissions, the
files ``verify`` finds in a folder) comes through here, so one place decides what
is refused: a missing path, a directory, a FIFO or a device (which could block
forever or never end), a file larger than its limit, text that is not UTF-8.
A path is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open
descriptor, so a FIFO is refused without waiting for a writer and a path cannot
be swapped between the check and the read.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
from typing import BinaryIO, TextIO

from .errors import FileError
from .usertext import visible

MAX_PROBLEM_BYTES = 5_000_000           # a problem file (YAML)
MAX_ANSWERS_BYTES = 5_000_000           # a student's answers file (YAML)
MAX_SUBMISSIONS_BYTES = 2_000_000_000   # a class's submissions, streamed row by row

_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a FIFO (named pipe)"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISSOCK, "is a socket"),
)


def _fail(path: str, message: str) -> FileError:
    return FileError(f"{visible(path)}: {message}", source=path)


def open_regular(path: str | os.PathLike[str], what: str, limit: int) -> tuple[BinaryIO, int]:
    """An open binary handle on a regular file and its size, or a one-line FileError.

    ``what`` completes "expected …" in messages (e.g. "a YAML problem file")."""
    source = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(source, flags)
    except FileNotFoundError:
        raise _fail(source, "no such file") from None
    except IsADirectoryError:
        raise _fail(source, f"is a directory, expected {what}") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise _fail(source, f"cannot be read ({reason})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = next((words for test, words in _KINDS if test(info.st_mode)), "is not a regular file")
            raise _fail(source, f"{kind}, expected {what}")
        if info.st_size > limit:
            raise _fail(source, f"is larger than {limit:,} bytes ({info.st_size:,}); expected {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb"), info.st_size
    except BaseException:
        os.close(descriptor)
        raise


def read_bytes(path: str | os.PathLike[str], what: str, limit: int) -> bytes:
    """The whole file, at most ``limit`` bytes (a file that grows while read is cut off
    and refused, not read without end)."""
    handle, _size = open_regular(path, what, limit)
    with handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _fail(os.fspath(path), f"is larger than {limit:,} bytes; expected {what}")
    return data


def decode(data: bytes, path: str, what: str) -> str:
    """UTF-8 text (a leading byte-order mark is dropped, as Excel and Notepad write one);
    a NUL byte or invalid UTF-8 is refused with its position."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise _fail(path, f"is not UTF-8 text (byte {error.start + 1}, line {line}); expected {what}") from None
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise _fail(path, f"line {line}: contains a NUL byte; expected {what} (text, not binary data)")
    return text


def read_text(path: str | os.PathLike[str], what: str, limit: int) -> str:
    """A whole small text file: :func:`read_bytes` then :func:`decode`."""
    return decode(read_bytes(path, what, limit), os.fspath(path), what)


class TextStream(io.TextIOWrapper):
    """A UTF-8 text handle on a regular file that knows how far it has read
    (``position``, in bytes, for a progress bar) and the file's ``size``."""

    size: int

    @property
    def position(self) -> int:
        return self.buffer.tell()


def open_text(path: str | os.PathLike[str], what: str, limit: int = MAX_SUBMISSIONS_BYTES,
              newline: str | None = "", errors: str = "strict") -> TextStream:
    """A streaming text handle (UTF-8, a leading BOM dropped), for files read row by row.
    Decoding errors surface as UnicodeDecodeError while reading; with
    ``errors="surrogateescape"`` each bad byte becomes one lone surrogate instead, so a
    reader can report the row that holds it and go on with the next."""
    handle, size = open_regular(path, what, limit)
    stream = TextStream(handle, encoding="utf-8-sig", newline=newline, errors=errors)
    stream.size = size
    return stream


def is_regular(path: str | os.PathLike[str]) -> bool:
    """Does ``path`` name a regular file (following links), without opening it?"""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def same_file(first: str | os.PathLike[str], second: str | os.PathLike[str]) -> bool:
    """Do two paths name the same existing file (through links, ./ and case-folding
    file systems)?"""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def write_atomic(path: str, data: bytes, *, inputs: tuple[str, ...] = ()) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, then a
    rename over it (an existing file keeps its permissions; a new one gets 0666 less the
    umask). Refuses a path that is one of ``inputs`` or is not a regular file."""
    import tempfile

    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise _fail(path, f"the folder {visible(folder)} does not exist")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise _fail(path, "exists and is not a regular file; choose another name")
    for source in inputs:
        if same_file(path, source) or os.path.realpath(path) == os.path.realpath(source):
            raise _fail(path, f"that is the input file ({visible(source)}); write to another file")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.bpcalc-partial-",
                                                 dir=folder)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        temporary = None
    except OSError as error:
        raise _fail(path, f"cannot be written ({error.strerror or error})") from None
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


__all__ = ["MAX_PROBLEM_BYTES", "MAX_ANSWERS_BYTES", "MAX_SUBMISSIONS_BYTES", "open_regular",
           "read_bytes", "decode", "read_text", "open_text", "TextStream", "is_regular",
           "same_file", "write_atomic", "TextIO"]
