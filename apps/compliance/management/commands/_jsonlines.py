"""JSON lines in, JSON lines out, for the scan commands: one answer per input line, in
order, and a line that cannot be read answers `{"error": ...}` instead of stopping the run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from itertools import islice
from typing import TextIO


def input_stream(stdin: TextIO | None) -> TextIO:
    """The given stream (tests pass a StringIO), else stdin read as UTF-8 whatever the
    locale says."""
    if stdin is not None:
        return stdin
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")


def text_of(line: str) -> str | dict:
    """The "text" of one input line, or the error answer for it."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        return {"error": f"invalid JSON: {exc}"}
    if not isinstance(request, dict) or not isinstance(request.get("text"), str):
        return {"error": 'expected a JSON object with a "text" string'}
    return request["text"]


def batches(stream: TextIO, size: int) -> Iterator[list[str]]:
    """Lines without their line ending, `size` at a time (the last batch may be shorter)."""
    lines = (line.rstrip("\r\n") for line in stream)
    while batch := list(islice(lines, size)):
        yield batch


def dumps(answer: dict) -> str:
    return json.dumps(answer, separators=(", ", ": "))


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """Stop without a traceback when the reader goes away (`... | head`)."""
    try:
        yield
    except BrokenPipeError:
        # Python flushes stdout once more at exit: point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
