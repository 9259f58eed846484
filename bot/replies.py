"""Command results that are plain words for the person who asked."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NotAllowed", "Problem"]


@dataclass(frozen=True)
class NotAllowed:
    door: str
    why: str


@dataclass(frozen=True)
class Problem:
    """Something outside the user's control went wrong; `message` says what, plainly."""

    message: str
