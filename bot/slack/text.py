"""One piece of message text, rendered twice: mrkdwn for blocks, plain for the `text` twin.

A `Text` keeps lockbot's own words apart from values that come from people or APIs (door names,
reasons, error messages, ids, what a user typed). Only lockbot's words may carry markup; every
value is escaped in both renderings, here and nowhere else, so no name can ping a channel or fake
a link, and the blocks and their `text` twin cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from slack_sdk.models.messages import DateLink, ObjectLink

__all__ = [
    "ECHO_LIMIT",
    "IN_UTC",
    "NAME_LIMIT",
    "Text",
    "bold",
    "clock_time",
    "code",
    "compose",
    "cut",
    "date",
    "escape",
    "fitting",
    "join",
    "mention",
    "plain_date",
    "time_span",
    "value",
]

# What a person typed is echoed back at most this long; a name from an API is shown at most this long.
ECHO_LIMIT = 80
NAME_LIMIT = 120


def escape(text: str) -> str:
    """Make text from people or APIs inert inside Slack text (no mentions, links or markup injected)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters: a longer text is cut, and says so with "…"."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


class _Style(Enum):
    NONE = "none"
    BOLD = "bold"
    CODE = "code"
    CODE_IN_BLOCKS = "code in blocks"  # a code span in blocks only; the plain twin reads it as running text

    @property
    def mark(self) -> str:
        return {"bold": "*", "code": "`", "code in blocks": "`"}.get(self.value, "")


@dataclass(frozen=True)
class _Words:
    """lockbot's own words: trusted markup, with how they read as plain text."""

    mrkdwn: str
    plain: str


@dataclass(frozen=True)
class _Value:
    """A value from outside lockbot: always escaped, optionally set in bold or code in mrkdwn."""

    text: str
    style: _Style


_Part = _Words | _Value


def _plain_words(markup: str) -> str:
    # Bold is only emphasis; a code span (a command, an id) reads as well with its backticks.
    return markup.replace("*", "")


@dataclass(frozen=True)
class Text:
    parts: tuple[_Part, ...] = ()

    def mrkdwn(self) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, _Words):
                out.append(part.mrkdwn)
            elif part.text:
                mark = part.style.mark
                out.append(f"{mark}{escape(part.text)}{mark}")
        return "".join(out)

    def plain(self) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, _Words):
                out.append(part.plain)
            elif part.text:
                mark = part.style.mark if part.style is _Style.CODE else ""
                out.append(f"{mark}{escape(part.text)}{mark}")
        return "".join(out)

    def __add__(self, other: Text | str) -> Text:
        return Text(self.parts + _as_text(other).parts)

    def __radd__(self, other: str) -> Text:
        return Text(_as_text(other).parts + self.parts)

    def __bool__(self) -> bool:
        return any(part.mrkdwn if isinstance(part, _Words) else part.text for part in self.parts)

    def __len__(self) -> int:
        """The length of the longer rendering (the one Slack's limits bite on)."""
        return max(len(self.mrkdwn()), len(self.plain()))


def _as_text(piece: Text | str) -> Text:
    """A `str` here is lockbot's own mrkdwn, written in code; never pass a value from outside as one."""
    if isinstance(piece, Text):
        return piece
    return Text((_Words(piece, _plain_words(piece)),))


def compose(*pieces: Text | str) -> Text:
    """lockbot's own words (`str`, mrkdwn) and values (`Text`, from `value`, `bold`, …) in order."""
    return Text(tuple(part for piece in pieces for part in _as_text(piece).parts))


def join(separator: Text | str, texts: Iterable[Text]) -> Text:
    out = Text()
    for index, text in enumerate(texts):
        out = out + text if index == 0 else out + separator + text
    return out


def value(text: object, limit: int | None = None) -> Text:
    """A value from outside lockbot, shown as it is (escaped), cut to `limit` characters if given."""
    shown = str(text)
    return Text((_Value(cut(shown, limit) if limit else shown, _Style.NONE),))


def bold(text: object, limit: int | None = NAME_LIMIT) -> Text:
    shown = str(text)
    return Text((_Value(cut(shown, limit) if limit else shown, _Style.BOLD),))


def code(text: object, limit: int | None = NAME_LIMIT, *, plain_ticks: bool = True) -> Text:
    """A value set as code (an id, a command); `plain_ticks=False`: no backticks in the plain twin."""
    shown = str(text).replace("`", "'")  # a backtick inside would end the code span early
    style = _Style.CODE if plain_ticks else _Style.CODE_IN_BLOCKS
    return Text((_Value(cut(shown, limit) if limit else shown, style),))


_SLACK_ID = re.compile(r"^[UWBS][A-Z0-9]{2,20}$")


def mention(entry: str) -> Text:
    """A user (`U…`, `W…`) or user group (`S…`) mention; anything else is shown as an escaped value."""
    if not _SLACK_ID.match(entry):
        return value(entry, NAME_LIMIT)
    markup = str(ObjectLink(object_id=entry))
    return Text((_Words(markup, markup),))


def plain_date(moment: datetime) -> str:
    """A time as plain text: converted to UTC before it is labelled UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def date(moment: datetime, *, at: bool = False) -> Text:
    """A time every reader sees in their own time zone (Slack date formatting), UTC as plain text.

    `at`: the plain text reads "at 2026-11-22 17:30 UTC" (Slack's own words read "Today at 17:30")."""
    fallback = plain_date(moment)
    markup = str(DateLink(date=moment, date_format="{date_short_pretty} at {time}", fallback=fallback))
    return Text((_Words(markup, f"at {fallback}" if at else fallback),))


_EN_DASH = "\u2013"


def _time_of_day(moment: datetime) -> str:
    """ "14:10": a time of day in UTC, as plain text."""
    return plain_date(moment).split(" ")[1]


def clock_time(moment: datetime) -> Text:
    """A time of day every reader sees in their own zone, as Slack's `{time}` shows it ("14:10");
    "14:10 UTC" as plain text. For a time less than a day ahead (an unlock's end): its next 14:10."""
    plain = f"{_time_of_day(moment)} UTC"
    markup = str(DateLink(date=moment, date_format="{time}", fallback=plain))
    return Text((_Words(markup, plain),))


def time_span(start: datetime, end: datetime) -> Text:
    """From one time of day to another (14:00 to 14:10, with an en dash), each in the reader's own
    zone, as Slack's `{time}` shows it; the plain text is the times alone, in UTC: say so after the
    whole phrase with `IN_UTC` ("unlocked 14:00 to 14:10, locked again (UTC)")."""
    marks = [str(DateLink(date=moment, date_format="{time}", fallback=_time_of_day(moment))) for moment in (start, end)]
    return Text((_Words(_EN_DASH.join(marks), f"{_time_of_day(start)}{_EN_DASH}{_time_of_day(end)}"),))


# The plain text's times are UTC (the blocks' are each reader's own): said once, after the phrase.
IN_UTC = Text((_Words("", " (UTC)"),))


def fitting(items: Sequence[Text], budget: int, separator: str) -> int:
    """How many of `items`, joined by `separator`, fit in `budget` characters (at least one if any)."""
    used, count = 0, 0
    for item in items:
        used += len(item) + (len(separator) if count else 0)
        if count and used > budget:
            break
        count += 1
    return count
