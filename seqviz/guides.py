"""The page guides (docs/guide/<page>.md), read for the app: one text for the repository and the page.

In the app a guide is drawn as markdown: the links between the docs' files and the screenshots are for readers
of the repository (the app serves neither), so they become their text; the title is the page's own.
"""
from __future__ import annotations

import re
from pathlib import Path

GUIDES = Path(__file__).resolve().parent.parent / "docs" / "guide"
_IMAGE = re.compile(r"!\[[^\]]*\]\((?!https?://)[^)]*\)\n?")     # a screenshot (its line too, when alone)
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((?!https?://)[^)]*\)")  # a relative link: [text](other.md#part)


def path(page: str) -> Path:
    return GUIDES / f"{page}.md"


def for_app(page: str) -> str | None:
    """The guide of `page` (an architecture id or "home") as the app shows it, or None when it has none."""
    try:
        text = path(page).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    text = re.sub(r"\A# .*\n", "", text)                        # the page has its own title
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"^## ", "#### ", text, flags=re.M)           # sections under the expander, not page-sized
    return re.sub(r"\n{3,}", "\n\n", text).strip()
