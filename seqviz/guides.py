"""The page guides (docs/guide/<page>.md), read for the app: one text for the repository and the page.

In the app a guide is drawn as markdown: the links between the docs' files and the screenshots are for readers
of the repository (the app serves neither), so they become their text; the title is the page's own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

GUIDES = Path(__file__).resolve().parent.parent / "docs" / "guide"
_IMAGE = re.compile(r"!\[[^\]]*\]\((?!https?://)[^)]*\)\n?")     # a screenshot (its line too, when alone)
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((?!https?://)[^)]*\)")  # a relative link: [text](other.md#part)
_TRY = re.compile(r"^- \[([^\]]+)\]\(\?([^)]*)\) — (.+)$", re.M)     # - [label](?query) — why
TRY_HEADING = "## Try this"


@dataclass(frozen=True)
class Try:
    """One thing to try on a page: its label, the view it opens (the page's URL state) and what to notice."""
    label: str
    query: dict
    why: str


def path(page: str) -> Path:
    return GUIDES / f"{page}.md"


def for_app(page: str) -> str | None:
    """The guide of `page` (an architecture id or "home") as the app shows it, or None when it has none."""
    try:
        text = path(page).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    text = re.sub(r"\A# .*\n", "", text)                        # the page has its own title
    text = re.sub(rf"^{TRY_HEADING}\n.*?(?=^## |\Z)", "", text, flags=re.M | re.S)   # the page's own box shows it
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"^## ", "#### ", text, flags=re.M)           # sections under the expander, not page-sized
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def tries(page: str) -> list[Try]:
    """The guide's "Try this" items: `- [label](?query) — why`, each query the page's URL state."""
    try:
        text = path(page).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    section = re.search(rf"^{TRY_HEADING}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    return [Try(label, dict(parse_qsl(query, keep_blank_values=True)), why)
            for label, query, why in _TRY.findall(section.group(1) if section else "")]
