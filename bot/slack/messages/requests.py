"""Unlock requests: the request message with its buttons, what the requester is told, the answers to
a click, and the modal in which a denier gives the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ButtonElement,
    ConfirmObject,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.durations import spoken_duration
from bot.model import ActionView, RequestState, UnlockRequest
from bot.policy import EVERYONE
from bot.slack.messages.outcomes import action_icon, action_outcome
from bot.slack.messages.primitives import Block, SlackMessage, actions, button, context, section, section_message
from bot.slack.messages.reminders import reminded_line
from bot.slack.messages.replies import render_notice
from bot.slack.text import Text, bold, compose, date, escape, join, mention, value
from bot.unlock_requests import (
    AlreadyDecided,
    Decided,
    Decision,
    DecisionRefused,
    DecisionResult,
    Refusal,
    RequestFiled,
    RequestGone,
)

__all__ = [
    "APPROVE",
    "CANCEL",
    "DENY",
    "DENY_REASON",
    "DENY_REASON_INPUT",
    "approve_button",
    "cancel_button",
    "decision_buttons",
    "deny_button",
    "fitted_confirm",
    "refusal_plain",
    "render_decision_reply",
    "render_deny_reason_modal",
    "render_refusal",
    "render_request",
    "render_request_filed",
    "render_requester_message",
    "unlock_confirm",
]

# The action ids of the request's buttons (bot/slack/buttons.py listens for them).
APPROVE, DENY, CANCEL = "unlock_approve", "unlock_deny", "unlock_cancel"
DENY_REASON = "unlock_deny_reason"  # the button offering a reason, and the modal's callback id
DENY_REASON_INPUT = "reason"


def _approvers(approvers: frozenset[str] | None) -> Text:
    if approvers is None:
        return compose("a workspace admin or owner")
    if EVERYONE in approvers:
        return compose("anyone")
    if not approvers:
        return compose("nobody (the policy names no approvers for this door)")
    return join(", ", [mention(entry) for entry in sorted(approvers)])


# Slack's limits for a confirm dialog: its title, its text, and each of its two buttons.
_CONFIRM_TITLE_LIMIT, _CONFIRM_TEXT_LIMIT = 100, 300


def _within(make: Callable[[int], Text], limit: int) -> Text:
    """`make(n)` shows a value cut to n characters: the longest that stays within `limit` once escaped
    (escaping makes `&` five characters, so a cut by length alone is not enough)."""
    room = limit
    text = make(room)
    while len(text) > limit and room > 1:
        room = max(1, min(room - 1, room * limit // len(text)))
        text = make(room)
    return text


def fitted_confirm(
    title: Callable[[int], Text], text: Callable[[int], Text], yes: str, no: str, *, style: str | None = None
) -> ConfirmObject:
    """A confirm dialog within Slack's limits: `title(n)` and `text(n)` show an outside value cut to n
    characters, and the longest that fits once escaped is kept."""
    return ConfirmObject(
        title=PlainTextObject(text=_within(title, _CONFIRM_TITLE_LIMIT).plain()),
        text=MarkdownTextObject(text=_within(text, _CONFIRM_TEXT_LIMIT).mrkdwn()),
        confirm=PlainTextObject(text=yes),
        deny=PlainTextObject(text=no),
        style=style,
    )


def unlock_confirm(door: str, requester: str, unlock_for: timedelta | None = None) -> ConfirmObject:
    """The dialog Slack shows before an approval is sent: which door it unlocks, and for whom."""
    how_long = f" for {spoken_duration(unlock_for)}" if unlock_for is not None else ""
    return fitted_confirm(
        lambda room: compose("Unlock ", value(door, room), "?"),
        lambda room: compose(
            "Approve ", mention(requester), "'s request to unlock ", bold(door, room), how_long, "? It unlocks at once."
        ),
        "Approve and unlock",
        "Go back",
        style="primary",
    )


def approve_button(request: UnlockRequest) -> ButtonElement:
    """Approve, for the door's approvers: Slack asks them to confirm, naming the door and the requester."""
    confirm = unlock_confirm(request.door, request.requester, request.unlock_for)
    return button(APPROVE, "Approve", request.id, "primary", confirm=confirm)


def deny_button(request: UnlockRequest) -> ButtonElement:
    return button(DENY, "Deny", request.id, "danger")


def decision_buttons(request: UnlockRequest) -> list[ButtonElement]:
    """Approve and Deny, carrying only the request id: on the request message and on approvers' Homes alike."""
    return [approve_button(request), deny_button(request)]


def cancel_button(request: UnlockRequest) -> ButtonElement:
    """For the requester, to withdraw the request."""
    return button(CANCEL, "Cancel request", request.id)


def _decision_line(request: UnlockRequest) -> tuple[str, Text] | None:
    """(icon, words) saying how the request was decided, if it was."""
    when = request.decided_at
    if request.state is RequestState.APPROVED and when:
        return ":white_check_mark:", compose(
            "Approved by ", mention(request.decided_by or ""), " ", date(when, at=True)
        )
    if request.state is RequestState.DENIED and when:
        note = compose(": ", value(request.note, 500)) if request.note else compose()
        return ":no_entry:", compose("Denied by ", mention(request.decided_by or ""), " ", date(when, at=True), note)
    if request.state is RequestState.CANCELLED:
        return ":heavy_multiplication_x:", compose("Cancelled by ", mention(request.requester))
    if request.state is RequestState.EXPIRED:
        return ":hourglass:", compose("Expired ", date(request.expires_at, at=True), ": nobody decided in time")
    return None


def render_request(
    request: UnlockRequest, approvers: frozenset[str] | None, outcome: ActionView | None = None
) -> SlackMessage:
    """The request message: who asks for which door and why; who was reminded of it and when; buttons
    while it is pending."""
    ask = compose(mention(request.requester), " asks to unlock ", bold(request.door))
    if request.unlock_for is not None:
        ask = ask + compose(f" for {spoken_duration(request.unlock_for)}")
    lines = [ask]
    if request.reason:
        lines.append(compose("Reason: ", value(request.reason, 500)))
    blocks: list[Block] = [section(compose(":key: ", join("\n", lines)))]
    plain = [line.plain() for line in lines]
    decided = _decision_line(request)
    if decided is None:
        who = _approvers(approvers)
        details = compose(
            "Approvers: ",
            who,
            " · expires ",
            date(request.expires_at),
            " · only ",
            mention(request.requester),
            " can cancel",
        )
        plain.append(
            compose(
                "Approvers: ",
                who,
                ". Expires ",
                date(request.expires_at, at=True),
                ". Only ",
                mention(request.requester),
                " can cancel.",
            ).plain()
        )
        blocks.append(context(details))
    else:
        icon, words = decided
        blocks.append(context(compose(f"{icon} ", words)))
        plain.append(words.plain() + ".")
    if request.reminded is not None:
        # Kept once decided: an approver landing on the message sees who was asked, and when.
        reminded = reminded_line(request.reminded)
        blocks.append(context(compose(":bell: ", reminded)))
        plain.append(reminded.plain() + ".")
    if decided is None:
        blocks.append(actions("unlock_request", *decision_buttons(request), cancel_button(request)))
    if outcome is not None and request.state is RequestState.APPROVED:
        sentence = action_outcome(outcome)
        blocks.append(section(compose(f"{action_icon(outcome)} ", sentence)))
        plain.append(sentence.plain())
    return SlackMessage(text=" ".join(plain), blocks=blocks)


def render_request_filed(filed: RequestFiled) -> SlackMessage:
    """The requester's ephemeral confirmation."""
    request = filed.request
    return section_message(
        compose(
            "You may not unlock ",
            bold(request.door),
            " directly, so I've asked ",
            _approvers(filed.approvers),
            f" in <#{escape(request.channel)}>. Your request expires ",
            date(request.expires_at),
            "; I'll message you when it is decided.",
        )
    )


def render_requester_message(request: UnlockRequest, outcome: ActionView | None) -> SlackMessage:
    """The direct message telling the requester what became of the request."""
    door = bold(request.door)
    decider = mention(request.decided_by or "")
    if request.state is RequestState.APPROVED and outcome is not None:
        text = compose("Your request to unlock ", door, " was approved by ", decider, ". ", action_outcome(outcome))
    elif request.state is RequestState.DENIED:
        note = compose(": ", value(request.note, 500)) if request.note else compose(".")
        text = compose("Your request to unlock ", door, " was denied by ", decider, note)
    elif request.state is RequestState.EXPIRED:
        text = compose(
            "Your request to unlock ", door, " expired: nobody decided in time. You can ask again with /unlock."
        )
    elif request.state is RequestState.CANCELLED:
        text = compose("Your request to unlock ", door, " was cancelled.")
    else:
        text = compose("Your request to unlock ", door, " is waiting for approval.")
    return section_message(text)


_DONE_BY = {
    RequestState.APPROVED: "approved",
    RequestState.DENIED: "denied",
}

_REFUSAL_WORDS = {
    Refusal.NOT_THE_DENIER: "Only the person who denied a request can give the reason for it.",
    Refusal.REASON_ALREADY_GIVEN: "A reason was already given for this denial.",
    Refusal.EMPTY_REASON: "The reason was empty, so nothing changed.",
    Refusal.OWN_REQUEST: "You can't approve your own request.",
    Refusal.DENY_OWN_REQUEST: "To withdraw your own request, use Cancel.",
    Refusal.PROFILE_UNAVAILABLE: "Could not look up your Slack profile to check you may decide; try again shortly.",
    Refusal.RULES_UNAVAILABLE: "Could not check this door's rules with Seam right now; try again shortly.",
}


def _refusal(refused: DecisionRefused) -> Text:
    words = _REFUSAL_WORDS.get(refused.reason)
    if words is not None:
        return compose(words)
    if refused.reason is Refusal.ONLY_REQUESTER_CANCELS:
        return compose("Only ", mention(refused.user or ""), " can cancel their request.")
    assert refused.reason is Refusal.NOT_AN_APPROVER
    return compose("Only the approvers of ", bold(refused.door or "this door"), " can approve or deny this request.")


def render_refusal(refused: DecisionRefused) -> SlackMessage:
    """Why a click changed nothing."""
    return section_message(_refusal(refused))


def refusal_plain(refused: DecisionRefused) -> str:
    """The refusal as plain text, for places that show no markup (a modal's error line)."""
    return _refusal(refused).plain()


def render_decision_reply(result: DecisionResult, clicker: str) -> SlackMessage:
    """The ephemeral answer to whoever clicked a request's button."""
    if isinstance(result, RequestGone):
        return render_notice("This request no longer exists.")
    if isinstance(result, DecisionRefused):
        return render_refusal(result)
    request = result.request
    door, requester = bold(request.door), mention(request.requester)
    if isinstance(result, Decided):
        if result.decision is Decision.APPROVE:
            return section_message(compose("You approved ", requester, "'s request: unlocking ", door, " now."))
        if result.decision is Decision.DENY:
            denied = section_message(
                compose("You denied ", requester, "'s request to unlock ", door, ". They've been told.")
            )
            offer = actions("deny_reason", button(DENY_REASON, "Add a reason", request.id))
            return SlackMessage(text=denied.text, blocks=[*denied.blocks, offer])
        return section_message(compose("You cancelled your request to unlock ", door, "."))
    assert isinstance(result, AlreadyDecided)
    decided = _decision_line(request)
    what = decided[1] if decided else compose("It was already decided")
    if request.state in _DONE_BY and request.decided_by == clicker:
        what = compose(f"You already {_DONE_BY[request.state]} it")
    return section_message(compose("Nothing changed: this request to unlock ", door, " is already closed. ", what, "."))


def render_deny_reason_modal(request_id: str) -> dict[str, Any]:
    """The modal in which a denier explains the denial; only the request id travels in it."""
    return View(
        type="modal",
        callback_id=DENY_REASON,
        private_metadata=request_id,
        title=PlainTextObject(text="Reason for denying"),
        submit=PlainTextObject(text="Send"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            InputBlock(
                block_id=DENY_REASON_INPUT,
                label=PlainTextObject(text="Why was the unlock denied?"),
                element=PlainTextInputElement(action_id=DENY_REASON_INPUT, multiline=True, max_length=500),
            )
        ],
    ).to_dict()
