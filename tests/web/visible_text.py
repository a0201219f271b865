"""What a reader sees on a page: its text without scripts and styles, and the identifiers left in it.

Elements marked `translate="no"` hold data shown as it is (run ids, offending values, user names,
raw records) and are skipped: the HTML attribute says exactly that.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Words a Chinese page may show as they are: names of standards, formats and products, the language switch.
ALLOWED = frozenset(
    {
        "English",
        "CSV",
        "API",
        "GB/T",
        "OpenLineage",
        "SM2",
        "SM3",
        "JSON",
        "OpenAPI",
        "ReDoc",
        "Swagger",
        "UI",
        "UTC",
        "ID",
        "REST",
        "DCAT",
        "Excel",
        "ECharts",
        "GX",  # Great Expectations, the data-quality tool whose Data Docs the monitor links
        "USCC",
        "GB",
        "YYYY-MM-DD",
    }
)
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_./:+-]*")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skip = 0
        self._open: list[bool] = []  # per open element: does it start a skipped part?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        skips = tag in ("script", "style") or ("translate", "no") in attrs
        self._open.append(skips)
        self._skip += skips
        if skips:
            return
        for name, value in attrs:
            if name in ("title", "placeholder", "alt") and value:
                self.chunks.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or not self._open:
            return
        self._skip -= self._open.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.chunks.append(data.strip())


def visible_text(html: str) -> list[str]:
    """The page's visible text, one chunk per text node (and title/placeholder/alt attributes)."""
    parser = _Text()
    parser.feed(html)
    return parser.chunks


def identifiers(html: str) -> set[str]:
    """Latin words in the visible text that are not allowed names: untranslated codes and English text.

    Words with a digit are data (run ids, versions, case numbers, codes) and pass, as do single
    letters (check characters such as the X of an ID number, quoted in a message).
    """
    found = set()
    for chunk in visible_text(html):
        for word in _WORD.findall(chunk):
            word = word.rstrip(".:/-")
            if len(word) > 1 and word not in ALLOWED and not any(c.isdigit() for c in word):
                found.add(word)
    return found
