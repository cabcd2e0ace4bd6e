"""The one vocabulary type: tokens <-> ids, with padding and unknown, saved as JSON.

Id 0 is padding (so `Embedding(mask_zero=True)` masks it) and id 1 is the unknown token;
real tokens start at 2. Every architecture uses this class for words, tags and labels
(label sets are built with `specials=()` so label i is id i).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Iterable, Sequence

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"\w+(?:'\w+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (letters, digits, inner apostrophes); punctuation is dropped."""
    return _WORD.findall(text.lower())


class Vocab:
    def __init__(self, tokens: Sequence[str], specials: Sequence[str] = (PAD, UNK)):
        self.specials = list(specials)
        self.tokens = list(specials) + [t for t in tokens if t not in specials]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary tokens must be unique")

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], max_size: int | None = None,
              min_count: int = 1, specials: Sequence[str] = (PAD, UNK)) -> "Vocab":
        """Most frequent first (ties broken alphabetically, so the same data gives the same ids)."""
        counts = Counter(t for seq in sequences for t in seq)
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(specials))]
        return cls(ranked, specials)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens and self.specials == other.specials

    @property
    def unk_id(self) -> int | None:
        return self.index.get(UNK)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        unk = self.unk_id
        if unk is None:
            return [self.index[t] for t in tokens]  # closed sets (labels): unknown is a KeyError
        return [self.index.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def to_json(self) -> dict:
        return {"specials": self.specials, "tokens": self.tokens[len(self.specials):]}

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        return cls(data["tokens"], data["specials"])

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path) -> "Vocab":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))
