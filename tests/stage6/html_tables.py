"""Reads the report's HTML as a reader (or a screen reader) sees it: tables with their captions and cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Table:
    caption: str = ""
    testid: str = ""
    rows: list[list[str]] = field(default_factory=list)  # visible text per cell (th and td), header rows too
    spoken: list[list[str]] = field(
        default_factory=list
    )  # the text a screen reader reads (aria-hidden left out)
    marked: set[tuple[int, int]] = field(default_factory=set)  # (row, cell) with the preliminary marker


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self.stack: list[tuple[str, bool, bool, bool]] = []  # tag, visually hidden, aria-hidden, marker
        self.cell: list[str] | None = None
        self.spoken: list[str] | None = None
        self.in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"br", "img", "meta", "link", "input"}:
            return
        classes = (a.get("class") or "").split()
        self.stack.append((tag, "vh" in classes, a.get("aria-hidden") == "true", "prel" in classes))
        if tag == "table":
            self.tables.append(Table(testid=a.get("data-testid") or ""))
        elif tag == "tr" and self.tables:
            self.tables[-1].rows.append([])
            self.tables[-1].spoken.append([])
        elif tag in {"td", "th"} and self.tables:
            self.cell, self.spoken = [], []
        elif tag == "caption":
            self.in_caption = True

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack[-1][0] != tag:
            self.stack.pop()
        if self.stack:
            self.stack.pop()
        if tag in {"td", "th"} and self.cell is not None and self.tables:
            self.tables[-1].rows[-1].append("".join(self.cell).strip())
            self.tables[-1].spoken[-1].append(" ".join("".join(self.spoken or []).split()))
            self.cell = self.spoken = None
        elif tag == "caption":
            self.in_caption = False

    def handle_data(self, data: str) -> None:
        hidden = any(vh for _, vh, _, _ in self.stack)
        silent = any(ah for _, _, ah, _ in self.stack)
        # the preliminary marker ('p') is not part of the figure: shown text without it, the cell marked
        if any(prel for *_, prel in self.stack) and self.cell is not None and self.tables:
            table = self.tables[-1]
            table.marked.add((len(table.rows) - 1, len(table.rows[-1])))
            hidden = True
        if self.in_caption and self.tables:
            self.tables[-1].caption += data
        if self.cell is not None:
            if not hidden:
                self.cell.append(data)
            if not silent:
                self.spoken.append(data)


def tables(html: str) -> list[Table]:
    parser = _Parser()
    parser.feed(html)
    return parser.tables


def by_testid(html: str, testid: str) -> Table:
    return next(t for t in tables(html) if t.testid == testid)
