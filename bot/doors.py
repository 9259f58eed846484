"""Finding the door a person means from what they typed. Pure functions of the text and the locks."""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import Lock

__all__ = [
    "DoorAmbiguous",
    "DoorFound",
    "DoorMatch",
    "DoorUnknown",
    "closest_lock_name",
    "match_door",
    "match_door_and_reason",
    "normalised",
]

_QUOTES = {'"': '"', "“": "”", "'": "'", "‘": "’"}  # noqa: RUF001 - typographic quotes are what Slack sends


@dataclass(frozen=True)
class DoorFound:
    lock: Lock
    remainder: str = ""


@dataclass(frozen=True)
class DoorAmbiguous:
    query: str
    matches: tuple[Lock, ...]


@dataclass(frozen=True)
class DoorUnknown:
    query: str
    doors: tuple[Lock, ...]


DoorMatch = DoorFound | DoorAmbiguous | DoorUnknown

# NFKC may turn one typed character into a space and a mark (¨ is ' ̈'), so a typed run of words
# may be a little shorter than the name it normalises to.
_WORDS_NORMALISING_MAY_ADD = 4


@functools.lru_cache(maxsize=4096)
def _normalise(text: str) -> str:
    """One form for every way of typing a name: NFKC (composed é, not e + accent; full-width letters
    as plain ones), casefolded, then NFKC again, since casefolding can leave a string NFKC would
    change (Unicode's compatibility caseless match)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def normalised(text: str) -> str:
    """A door name, or what someone typed, in the form doors are compared in."""
    return _normalise(text)


def _unquoted(text: str) -> str:
    text = text.strip()
    closing = _QUOTES.get(text[:1])
    if closing is not None and len(text) > 1 and text.endswith(closing):
        return text[1:-1]
    return text


def match_door(query: str, locks: Sequence[Lock]) -> DoorMatch:
    """The lock named exactly (case-insensitive), by device id, or by a unique name prefix.

    A name in quotes (`"Back Door"`) is the name without them.
    """
    wanted = _normalise(_unquoted(query))
    if not wanted:
        return DoorUnknown(query, tuple(locks))
    exact = [
        lock
        for lock in locks
        if wanted == _normalise(lock.device_id) or wanted in {_normalise(name) for name in lock.names}
    ]
    if len(exact) == 1:
        return DoorFound(exact[0])
    if exact:
        return DoorAmbiguous(query, tuple(exact))
    prefixed = [lock for lock in locks if any(_normalise(name).startswith(wanted) for name in lock.names)]
    if len(prefixed) == 1:
        return DoorFound(prefixed[0])
    if prefixed:
        return DoorAmbiguous(query, tuple(prefixed))
    return DoorUnknown(query, tuple(locks))


def match_door_and_reason(text: str, locks: Sequence[Lock]) -> DoorMatch:
    """A door at the start of `text`, the rest being a free-text reason.

    A quoted name is taken as the door. Otherwise the longest run of leading words that names a
    door wins, so `front door courier at reception` is Front Door with the reason
    `courier at reception`.
    """
    text = text.strip()
    closing = _QUOTES.get(text[:1])
    if closing is not None:
        end = text.find(closing, 1)
        if end > 0:
            found = match_door(text[1:end], locks)
            if isinstance(found, DoorFound):
                return DoorFound(found.lock, text[end + 1 :].strip())
            return found
    words = text.split()
    # No run of words longer than the longest name can name a door: a long reason costs no more
    # than a short one (a little more, since normalising may split a word).
    longest = max((len(_normalise(name).split()) for lock in locks for name in lock.names), default=1)
    for count in range(min(len(words), longest + _WORDS_NORMALISING_MAY_ADD), 0, -1):
        found = match_door(" ".join(words[:count]), locks)
        if isinstance(found, DoorFound):
            return DoorFound(found.lock, " ".join(words[count:]))
        if isinstance(found, DoorAmbiguous):
            return found
    return DoorUnknown(text, tuple(locks))


def closest_lock_name(name: str, locks: Sequence[Lock]) -> str | None:
    """The lock name most like a mistyped one ("Server Rom" -> "Server Room"), if one is close."""
    by_form = {_normalise(known): known for lock in locks for known in lock.names}
    close = difflib.get_close_matches(_normalise(name), list(by_form), n=1, cutoff=0.6)
    return by_form[close[0]] if close else None
