"""Block Kit as terminal text: what a Slack client would show, as plain readable lines.

Pure functions. Slack's markup (`<@U…>`, `<#C…>`, `<!date^…>`, links, `*bold*`, `&lt;`) is made
readable; what Slack shows as plain text (an escaped `<!channel>` in a door name) stays plain text,
and control characters, which a terminal would obey, are shown as `?`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

__all__ = ["Button", "ButtonNumber", "button_of", "input_blocks", "message_lines", "readable"]

Button = Mapping[str, Any]
ButtonNumber = Callable[[Button], int | None]

_EMOJI = {
    "battery": "🔋",
    "electric_plug": "🔌",
    "grey_question": "❔",
    "heavy_multiplication_x": "✖",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "information_source": "\u2139",  # information source
    "key": "🔑",
    "lock": "🔒",
    "no_entry": "⛔",
    "rotating_light": "🚨",
    "unlock": "🔓",
    "warning": "⚠",
    "white_check_mark": "✅",
}

_TOKEN = re.compile(r"<([^<>]*)>")
_EMOJI_CODE = re.compile(r":([a-z0-9_+-]+):")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
# C0 and C1 controls and DEL, but not newline or tab: an escape sequence in a door name must not
# move the cursor or recolour the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_DATE_FIELD = re.compile(r"\{(\w+)\}")


def _date(token: str, zone: tzinfo) -> str:
    """`!date^<epoch>^<format>[^<link>]|<fallback>` in the reader's time zone."""
    head, _, fallback = token.partition("|")
    parts = head.split("^")
    try:
        moment = datetime.fromtimestamp(int(parts[1]), zone)
    except (IndexError, ValueError, OverflowError, OSError):
        return fallback
    template = parts[2] if len(parts) > 2 else "{date_short} {time}"
    today = datetime.now(zone).date()
    day = moment.strftime("%Y-%m-%d")
    if template.startswith(("{date_short_pretty}", "{date_pretty}")) and moment.date() == today:
        day = "today"
    words = {
        "date_num": moment.strftime("%Y-%m-%d"),
        "date": day,
        "date_short": day,
        "date_long": day,
        "date_pretty": day,
        "date_short_pretty": day,
        "date_long_pretty": day,
        "time": moment.strftime("%H:%M"),
        "time_secs": moment.strftime("%H:%M:%S"),
    }
    shown = _DATE_FIELD.sub(lambda found: words.get(found.group(1), found.group(0)), template)
    zone_name = moment.tzname() or ""
    return f"{shown} {zone_name}".rstrip()


def _token(token: str, zone: tzinfo, channel_names: Mapping[str, str]) -> str:
    if token.startswith("@"):
        return "@" + token[1:].partition("|")[0]
    if token.startswith("#"):
        channel, _, name = token[1:].partition("|")
        return "#" + (name or channel_names.get(channel, channel))
    if token.startswith("!date^"):
        return _date(token, zone)
    if token.startswith("!subteam^"):
        group, _, name = token[len("!subteam^") :].partition("|")
        return name if name.startswith("@") else "@" + (name or group)
    if token.startswith("!"):
        return "@" + token[1:].partition("|")[0].partition("^")[0]
    target, _, label = token.partition("|")
    return f"{label} ({target})" if label and label != target else target


def readable(mrkdwn: str, *, zone: tzinfo, channel_names: Mapping[str, str] | None = None) -> str:
    """Slack mrkdwn as a person reads it in Slack, in plain text for a terminal."""
    names = channel_names or {}
    text = _TOKEN.sub(lambda found: _token(found.group(1), zone, names), mrkdwn)
    text = _BOLD.sub(lambda found: found.group(1), text)
    text = _EMOJI_CODE.sub(lambda found: _EMOJI.get(found.group(1), found.group(0)), text)
    # Slack escapes only these three; `&amp;` last, so an escaped "&lt;" reads as "&lt;".
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _CONTROL.sub("?", text)


def _plain(text: str) -> str:
    return _CONTROL.sub("?", text)


def _text_object(obj: Any, zone: tzinfo, names: Mapping[str, str]) -> str:
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return readable(text, zone=zone, channel_names=names)
    return _plain(text)


def button_of(element: Any) -> Button | None:
    """A button element of an actions block, or None for anything else."""
    if isinstance(element, Mapping) and element.get("type") == "button":
        return element
    return None


def input_blocks(view: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A modal's input blocks, in order."""
    return [block for block in view.get("blocks") or [] if isinstance(block, Mapping) and block.get("type") == "input"]


def _actions(block: Mapping[str, Any], number: ButtonNumber) -> str:
    shown = []
    for element in block.get("elements") or []:
        button = button_of(element)
        if button is None:
            continue
        label = _plain(str((button.get("text") or {}).get("text") or ""))
        at = number(button)
        shown.append(f"[{at}] {label}" if at is not None else f"[-] {label}")
    return "  ".join(shown)


def _block_lines(block: Any, zone: tzinfo, names: Mapping[str, str], number: ButtonNumber) -> list[str]:
    if not isinstance(block, Mapping):
        return []
    kind = block.get("type")
    if kind in ("section", "header"):
        lines = [_text_object(block.get("text"), zone, names)]
        lines += [_text_object(field, zone, names) for field in block.get("fields") or []]
        return [line for line in lines if line]
    if kind == "context":
        parts = [_text_object(element, zone, names) for element in block.get("elements") or []]
        return ["  ".join(part for part in parts if part)]
    if kind == "actions":
        return [_actions(block, number)]
    if kind == "divider":
        return ["―" * 20]
    if kind == "input":
        return [_text_object(block.get("label"), zone, names) + ": …"]
    return []


def message_lines(
    text: str,
    blocks: Sequence[Any],
    *,
    zone: tzinfo,
    number: ButtonNumber = lambda button: None,
    channel_names: Mapping[str, str] | None = None,
) -> list[str]:
    """A message as lines: its blocks when it has any, else its `text`; buttons as `[n] label`
    with the numbers `number` gives them."""
    names = channel_names or {}
    lines = [
        line for block in blocks for chunk in _block_lines(block, zone, names, number) for line in chunk.split("\n")
    ]
    if not lines:
        lines = readable(text, zone=zone, channel_names=names).split("\n")
    return lines
