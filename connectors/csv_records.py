"""Split a CSV text into records (RFC 4180): a quoted field may hold line breaks, so a record can
span lines; a broken quote spoils only the line it starts on.

Pure text in, `(first line number, record text)` out; the caller parses each record with `csv`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

__all__ = ["split_records"]


def split_records(text: str, *, delimiter: str = ",", quotechar: str = '"') -> list[tuple[int, str]]:
    """The records of `text` with the 1-based number of the line each starts on; blank lines skipped.

    A record continues on the next line only while a quoted field is open and the quoting closes
    cleanly (strict RFC 4180); otherwise the line stands alone as one (broken) record, so an
    unterminated quote never swallows the rows after it. Line breaks inside a record are kept as
    they were (CRLF or LF); the record's own line terminator is not part of its text.
    """
    lines = text.split("\n")
    records: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip("\r\n\t "):
            i += 1
            continue
        # an even number of quote characters cannot leave a well-formed quoted field open
        end = _record_end(lines, i, delimiter, quotechar) if line.count(quotechar) % 2 else i
        records.append((i + 1, "\n".join(lines[i : end + 1]).rstrip("\r")))
        i = end + 1
    return records


def _record_end(lines: list[str], start: int, delimiter: str, quotechar: str) -> int:
    """Index of the last line of the record starting at `start` (itself when quoting is broken)."""

    def following() -> Iterator[str]:
        for k in range(start, len(lines)):
            yield lines[k] + "\n"

    reader = csv.reader(following(), delimiter=delimiter, quotechar=quotechar, strict=True)
    try:
        next(reader)
    except (csv.Error, StopIteration):
        return start
    return start + reader.line_num - 1
