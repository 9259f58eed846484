"""What every message is made of: `SlackMessage`, Slack's limits, sections, contexts and buttons.

Blocks are built with slack_sdk's Block Kit models, which check Slack's shapes and lengths and raise
on text over a limit; so every text is cut to its limit here, before a model is built, and a
10,000-character door name is shown cut instead of raising.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.text import ECHO_LIMIT, Text, value

__all__ = [
    "BLOCK_LIMIT",
    "SECTION_LIMIT",
    "TEXT_BUDGET",
    "TEXT_LIMIT",
    "Block",
    "SlackMessage",
    "actions",
    "button",
    "chunks",
    "context",
    "echo",
    "section",
    "section_message",
]

log = logging.getLogger(__name__)

Block = dict[str, Any]

# Slack's own limits: a section's (or any mrkdwn element's) text, blocks in a message, a message's `text`.
SECTION_LIMIT = 3000
BLOCK_LIMIT = 50
TEXT_LIMIT = 4000
# What lockbot aims for, leaving room for the words around a list.
_SECTION_BUDGET = 2900
TEXT_BUDGET = 3500

_UNCLOSED_MARKUP = re.compile(r"<[^>]*$|&[a-z]{0,5}$")


def _fit(text: str, limit: int) -> str:
    """At most `limit` characters, never ending inside lockbot's own `<…>` or an `&…;` escape."""
    if len(text) <= limit:
        return text
    log.warning("a message text of %d characters was cut to Slack's limit of %d", len(text), limit)
    return _UNCLOSED_MARKUP.sub("", text[: limit - 1]) + "…"


def _fit_blocks(blocks: list[Block]) -> list[Block]:
    """Every text within Slack's limits and no more blocks than Slack takes: the last resort, after
    each renderer has already cut its lists (and `section`/`context` their texts) so this never has to act."""
    if len(blocks) > BLOCK_LIMIT:
        log.warning("a message of %d blocks was cut to Slack's limit of %d", len(blocks), BLOCK_LIMIT)
        blocks = blocks[:BLOCK_LIMIT]

    def fitted(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                return {**node, "text": _fit(node["text"], SECTION_LIMIT)}
            return {key: fitted(item) for key, item in node.items()}
        if isinstance(node, list):
            return [fitted(item) for item in node]
        return node

    return [fitted(block) for block in blocks]


@dataclass(frozen=True)
class SlackMessage:
    """A message's plain `text` and its blocks (as the JSON Slack takes), both within Slack's limits by
    construction."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", _fit(self.text, TEXT_LIMIT))
        object.__setattr__(self, "blocks", _fit_blocks(self.blocks))

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `chat.postMessage`, `chat.update` and `respond`."""
        return {"text": self.text, "blocks": self.blocks}


def _markdown(text: Text | str) -> MarkdownTextObject:
    """A `str` is lockbot's own mrkdwn; either is cut to Slack's limit for one text."""
    markup = text.mrkdwn() if isinstance(text, Text) else text
    return MarkdownTextObject(text=_fit(markup, SECTION_LIMIT))


def section(text: Text | str) -> Block:
    """A section block of one mrkdwn text (a `str` is lockbot's own mrkdwn)."""
    return SectionBlock(text=_markdown(text)).to_dict()


def context(*texts: Text | str) -> Block:
    """A context block: small grey lines under a section (a `str` is lockbot's own mrkdwn)."""
    return ContextBlock(elements=[_markdown(text) for text in texts]).to_dict()


def button(
    action_id: str, label: str, request_id: str, style: str | None = None, *, confirm: ConfirmObject | None = None
) -> ButtonElement:
    """A button carrying only an id: whoever clicks it is checked again when the click arrives. With
    `confirm`, Slack asks "are you sure?" in a dialog before the click is sent."""
    return ButtonElement(
        text=PlainTextObject(text=label), action_id=action_id, value=request_id, style=style, confirm=confirm
    )


def actions(block_id: str, *buttons: ButtonElement) -> Block:
    """An actions block: a row of buttons."""
    return ActionsBlock(block_id=block_id, elements=list(buttons)).to_dict()


def section_message(text: Text) -> SlackMessage:
    """One section, its plain twin as the `text`."""
    return SlackMessage(text=text.plain(), blocks=[section(text)])


def echo(typed: str) -> Text:
    """What someone typed, said back: a short cut of it, escaped."""
    return value(" ".join(typed.split()), ECHO_LIMIT)


def chunks(lines: Sequence[Text], *, limit: int = _SECTION_BUDGET, max_sections: int = BLOCK_LIMIT) -> list[str]:
    """Lines (mrkdwn) joined into as few sections as Slack's section limit allows, at most `max_sections`."""
    joined: list[str] = []
    for line in lines:
        markup = _fit(line.mrkdwn(), limit)
        if joined and len(joined[-1]) + 1 + len(markup) <= limit:
            joined[-1] += "\n" + markup
        elif len(joined) < max_sections:
            joined.append(markup)
        else:
            break
    return joined
