"""Block Kit for every lockbot message: pure functions of domain values.

Each message has a plain `text` that says the same as its blocks (notifications, screen readers).
Both are rendered from one `Text` (bot/slack/text.py), which escapes every value from people or
APIs, so neither can carry a mention or a link that lockbot did not write. Every message keeps
within Slack's limits: long lists are cut with "and N more" and a way to see the rest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.actions import not_confirmed_reason
from bot.door_service import AuditView, DoorOverview
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.model import ActionKind, ActionState, ActionView, AuditEntry, Lock, RequestState, UnlockRequest
from bot.policy import EVERYONE
from bot.replies import NotAllowed, Problem, ProblemReason
from bot.seam_events import DoorNotice
from bot.slack.text import (
    ECHO_LIMIT,
    NAME_LIMIT,
    Text,
    bold,
    code,
    compose,
    date,
    escape,
    fitting,
    join,
    mention,
    value,
)
from bot.slots import BadSlotCommand, SlotCommandFault, SlotStatus, SlotUnlocked, SlotView
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
    "BLOCK_LIMIT",
    "CANCEL",
    "DENY",
    "DENY_REASON",
    "DENY_REASON_INPUT",
    "SECTION_LIMIT",
    "SLOT_USAGE",
    "TEXT_LIMIT",
    "SlackMessage",
    "escape",
    "outcome_sentence",
    "refusal_plain",
    "render_action_parent",
    "render_action_status",
    "render_ambiguous_door",
    "render_audit",
    "render_bad_slot_command",
    "render_decision_reply",
    "render_deny_reason_modal",
    "render_door_notice",
    "render_door_overview",
    "render_not_allowed",
    "render_notice",
    "render_outcome_notice",
    "render_problem",
    "render_refusal",
    "render_request",
    "render_request_filed",
    "render_requester_message",
    "render_slot_parent",
    "render_slot_ran_out",
    "render_slot_status",
    "render_slot_status_reply",
    "render_slot_unlocked",
    "render_slot_usage",
    "render_unknown_door",
    "render_usage",
    "slack_date",
]

log = logging.getLogger(__name__)

Block = dict[str, Any]

# Slack's own limits: a section's (or any mrkdwn element's) text, blocks in a message, a message's `text`.
SECTION_LIMIT = 3000
BLOCK_LIMIT = 50
TEXT_LIMIT = 4000
# What lockbot aims for, leaving room for the words around a list.
_SECTION_BUDGET = 2900
_TEXT_BUDGET = 3500
_LISTED_NAMES = 20  # door names listed in one answer before "and N more"

_UNCLOSED_MARKUP = re.compile(r"<[^>]*$|&[a-z]{0,5}$")


def _fit(text: str, limit: int) -> str:
    """At most `limit` characters, never ending inside lockbot's own `<…>` or an `&…;` escape."""
    if len(text) <= limit:
        return text
    log.warning("a message text of %d characters was cut to Slack's limit of %d", len(text), limit)
    return _UNCLOSED_MARKUP.sub("", text[: limit - 1]) + "…"


def _fit_blocks(blocks: list[Block]) -> list[Block]:
    """Every text within Slack's limits and no more blocks than Slack takes: the last resort, after
    each renderer has already cut its lists so this never has to act."""
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
    """A message's plain `text` and its blocks, both within Slack's limits by construction."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", _fit(self.text, TEXT_LIMIT))
        object.__setattr__(self, "blocks", _fit_blocks(self.blocks))

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _section(text: Text | str) -> Block:
    markup = text.mrkdwn() if isinstance(text, Text) else text
    return {"type": "section", "text": {"type": "mrkdwn", "text": markup}}


def _context(*texts: Text | str) -> Block:
    elements = [{"type": "mrkdwn", "text": t.mrkdwn() if isinstance(t, Text) else t} for t in texts]
    return {"type": "context", "elements": elements}


def _message(text: Text) -> SlackMessage:
    """One section, its plain twin as the `text`."""
    return SlackMessage(text=text.plain(), blocks=[_section(text)])


def slack_date(moment: datetime) -> str:
    """A time every reader sees in their own time zone (Slack date formatting), UTC as fallback."""
    return date(moment).mrkdwn()


def _echo(typed: str) -> Text:
    """What someone typed, said back: a short cut of it, escaped."""
    return value(" ".join(typed.split()), ECHO_LIMIT)


def _list_names(names: Sequence[str], *, limit: int = _LISTED_NAMES) -> Text:
    shown = [bold(name) for name in names[:limit]]
    listed = join(", ", shown)
    more = len(names) - len(shown)
    if more > 0:
        listed = listed + f" and {more} more (`/doors &lt;prefix&gt;` lists the doors starting with a prefix)"
    return listed


# -- actions ------------------------------------------------------------------------------------

_ICONS = {
    ActionState.QUEUED: ":hourglass_flowing_sand:",
    ActionState.REQUESTING: ":hourglass_flowing_sand:",
    ActionState.PENDING: ":hourglass_flowing_sand:",
    ActionState.FAILED: ":warning:",
    ActionState.NOT_CONFIRMED: ":grey_question:",
}


def _icon(view: ActionView) -> str:
    if view.state is ActionState.SUCCEEDED:
        return ":lock:" if view.kind is ActionKind.LOCK else ":unlock:"
    return _ICONS[view.state]


def _outcome(view: ActionView) -> Text:
    door = value(view.door, NAME_LIMIT)
    gerund = view.kind.gerund.capitalize()
    if view.state.working:
        return compose(f"{gerund} ", door, "…")
    if view.state is ActionState.PENDING:
        return compose(f"{gerund} ", door, ": waiting for the lock to confirm…")
    if view.state is ActionState.SUCCEEDED:
        if not view.confirmed_by_device:
            return compose(
                door, f" {view.kind.past}, but the lock itself did not confirm it (unconfirmed by the device)."
            )
        return compose(door, f" {view.kind.past}.")
    if view.state is ActionState.FAILED:
        problem = value((view.problem or "Seam reported an error").rstrip("."), NAME_LIMIT * 4)
        return compose(f"Could not {view.kind.value} ", door, ": ", problem, ".")
    # It may have happened: say so, say what to do once, and never invite a retry.
    waited = f" within {view.timeout_seconds:g} s" if view.timeout_seconds else ""
    reason = not_confirmed_reason(view.problem) if view.problem else ""
    why = value(reason, NAME_LIMIT * 4) if reason else compose(f"no outcome from the lock{waited}")
    return compose(f"{gerund} ", door, " not confirmed: ", why, ". Check the door before relying on it.")


def outcome_sentence(view: ActionView) -> str:
    """The action's state in one plain sentence (mrkdwn), the outcome's words kept whole ("Front Door unlocked")."""
    return _outcome(view).mrkdwn()


def _requested(view: ActionView) -> Text:
    line = compose("Requested by ", mention(view.requested_by))
    if view.reason:
        line = line + compose(" · reason: ", value(view.reason, 500))
    return line


def render_action_parent(view: ActionView) -> SlackMessage:
    """The channel message: what was asked, then the final outcome."""
    if view.request is not None:
        return render_request(view.request, None, view)
    sentence, context = _outcome(view), _requested(view)
    return SlackMessage(
        text=compose(sentence, " (", context, ")").plain(),
        blocks=[_section(compose(f"{_icon(view)} ", sentence)), _context(context)],
    )


_STATUS_LABEL = {
    ActionState.QUEUED: "Working",
    ActionState.REQUESTING: "Working",
    ActionState.PENDING: "Pending",
    ActionState.SUCCEEDED: "Done",
    ActionState.FAILED: "Failed",
    ActionState.NOT_CONFIRMED: "Not confirmed",
}


def render_action_status(view: ActionView) -> SlackMessage:
    """The status message in the action's thread, edited as the action resolves."""
    label = _STATUS_LABEL[view.state]
    if view.state.working:
        sentence = compose(f"asking Seam to {view.kind.value} ", bold(view.door), "…")
    else:
        sentence = _outcome(view)
    details = [compose(f"Status: {label}")]
    if view.attempt_id:
        details.append(compose("Seam action attempt ", code(view.attempt_id)))
    return SlackMessage(
        text=compose(f"{label}: ", sentence).plain(),
        blocks=[_section(compose(f"{_icon(view)} *{label}:* ", sentence)), _context(join(" · ", details))],
    )


# -- commands -----------------------------------------------------------------------------------

_USAGE = {
    "/lock": ("/lock <door>", "Locks a door. Name it as in `/doors`, by a unique prefix, or by device id."),
    "/unlock": (
        "/unlock <door> [reason]",
        "Unlocks a door if you may unlock it directly; otherwise asks its approvers. Put a door name in "
        'quotes if the reason could be read as part of it: `/unlock "Back Door" parcel`.',
    ),
    "/doors": (
        "/doors [prefix] | /doors log [door]",
        "Lists the doors: locked or unlocked, online or offline, and what you may do; with a prefix, only "
        "the doors whose names start with it. `/doors log` shows approvers the recent audit log, of one "
        "door if you name it.",
    ),
}


def render_usage(command: str) -> SlackMessage:
    syntax, explanation = _USAGE.get(command, ("/lock <door>", "Locks a door."))
    text = compose("Usage: ", code(syntax), "\n", explanation, "\nTry `/doors` to see every door.")
    return SlackMessage(text=" ".join(text.plain().split("\n")), blocks=[_section(text)])


def _sorted_names(locks: Sequence[Lock]) -> list[str]:
    return [lock.name for lock in sorted(locks, key=lambda lock: lock.name.casefold())]


def render_unknown_door(unknown: DoorUnknown) -> SlackMessage:
    query = _echo(unknown.query)
    if unknown.doors:
        text = compose("I don't know a door called “", query, "”. The doors are: ")
        text = text + _list_names(_sorted_names(unknown.doors)) + "."
    else:
        text = compose("I don't know a door called “", query, "”, and Seam lists no doors at all.")
    return _message(text)


def render_ambiguous_door(ambiguous: DoorAmbiguous) -> SlackMessage:
    text = compose("“", _echo(ambiguous.query), "” could be several doors: ")
    text = text + _list_names(_sorted_names(ambiguous.matches)) + ". Type more of the name."
    return _message(text)


def render_notice(markdown: Text | str) -> SlackMessage:
    """A short ephemeral answer to the person who typed the command (a `str` is lockbot's own mrkdwn)."""
    return _message(compose(markdown))


def _door_line(lock: Lock, may_lock: bool, may_unlock: bool) -> tuple[str, Text]:
    """(icon, line) for one door."""
    locked = {True: "locked", False: "unlocked", None: "lock state unknown"}[lock.locked]
    online = {True: "online", False: "offline", None: "connection unknown"}[lock.online]
    icon = ":lock:" if lock.locked else ":unlock:" if lock.locked is False else ":grey_question:"
    rights = [right for right, allowed in (("lock", may_lock), ("unlock", may_unlock)) if allowed]
    if not may_unlock:
        rights.append("request an unlock from an approver")
    you = "you can " + " and ".join(rights) if rights else "you can only look"
    return icon, compose(bold(lock.name), f" — {locked}, {online} — {you}")


_NARROW = "`/doors &lt;prefix&gt;` lists only the doors whose names start with a prefix."


def render_door_overview(overview: DoorOverview) -> SlackMessage:
    if not overview.doors:
        if overview.prefix:
            text = compose("No door's name starts with “", _echo(overview.prefix), "”. ")
            return _message(text + "`/doors` lists every door.")
        return _message(compose("Seam lists no doors for lockbot."))
    lines = [_door_line(door.lock, door.may_lock, door.may_unlock) for door in overview.doors]
    title = compose(f"*Doors* ({len(lines)})")
    if overview.prefix:
        title = compose("*Doors starting with “", _echo(overview.prefix), f"”* ({len(lines)} of {overview.total})")
    # Blocks: every door that fits in Slack's blocks, the rest counted; text: as many as fit in its budget.
    sections = _chunks([compose(icon, " ", line) for icon, line in lines], max_sections=BLOCK_LIMIT - 2)
    shown_in_blocks = sum(chunk.count("\n") + 1 for chunk in sections)
    blocks = [_section(title), *(_section(chunk) for chunk in sections)]
    if shown_in_blocks < len(lines):
        blocks.append(_context(compose(f"…and {len(lines) - shown_in_blocks} more. ", _NARROW)))
    plain_lines = [line for _, line in lines]
    shown = fitting(plain_lines, _TEXT_BUDGET - len(title), "; ")
    text = compose(title, ": ", join("; ", plain_lines[:shown]))
    if shown < len(lines):
        text = text + compose(f" …and {len(lines) - shown} more. ", _NARROW)
    return SlackMessage(text=text.plain(), blocks=blocks)


def _chunks(lines: Sequence[Text], *, limit: int = _SECTION_BUDGET, max_sections: int = BLOCK_LIMIT) -> list[str]:
    """Lines (mrkdwn) joined into as few sections as Slack's section limit allows, at most `max_sections`."""
    chunks: list[str] = []
    for line in lines:
        markup = _fit(line.mrkdwn(), limit)
        if chunks and len(chunks[-1]) + 1 + len(markup) <= limit:
            chunks[-1] += "\n" + markup
        elif len(chunks) < max_sections:
            chunks.append(markup)
        else:
            break
    return chunks


_PROBLEM_WORDS = {
    ProblemReason.PROFILE_UNAVAILABLE: (
        "Could not look up your Slack profile to check what you may do; try again shortly."
    ),
    ProblemReason.LOG_FOR_APPROVERS: "Only approvers can read the audit log.",
}


def _detail(problem: Problem, fallback: str) -> Text:
    return value((problem.detail or fallback).rstrip("."), 300)


def _problem_text(problem: Problem) -> Text:
    reason, slot = problem.reason, code(problem.slot_id or "")
    words = _PROBLEM_WORDS.get(reason)
    if words is not None:
        return compose(words)
    if reason is ProblemReason.DOORS_UNLISTED:
        return compose("Could not list the doors: ", _detail(problem, "Seam returned an error"), ".")
    if reason is ProblemReason.DOORS_UNAVAILABLE:
        return compose("Could not look up the doors: ", _detail(problem, "Seam returned an error"), ".")
    if reason is ProblemReason.NOT_REMOTE:
        past = ActionKind(problem.action or "unlock").past
        return compose(bold(problem.door or "This door"), f" cannot be {past} remotely.")
    if reason is ProblemReason.NOT_ANNOUNCED:
        return compose(_detail(problem, "I couldn't post in this channel, so I did nothing"), ".")
    if reason is ProblemReason.REQUEST_NOT_POSTED:
        return compose("Your unlock request could not be posted: ", _detail(problem, "Slack refused it"), ".")
    if reason is ProblemReason.SLOT_NOT_HELD and problem.user:
        return compose("lockbot holds no lock on slot ", slot, ": ", mention(problem.user), " unlocked it.")
    if reason is ProblemReason.SLOT_NOT_HELD:
        return compose("lockbot holds no lock on slot ", slot, ", so there is nothing for it to unlock.")
    if reason is ProblemReason.SLOT_STILL_LOCKING:
        return compose("lockbot is still locking slot ", slot, "; try again when its thread says how that went.")
    if reason is ProblemReason.SLOT_NOT_YOURS:
        who = mention(problem.user or "")
        return compose("Only ", who, ", who locked slot ", slot, ", or an approver can unlock it early.")
    if reason is ProblemReason.SLOT_KEY_NOT_ON_SLOT:
        return compose(
            "Slot ",
            slot,
            " is not locked with lockbot's key, so there is nothing to unlock: the lock lockbot could not "
            "confirm did not take, or has already ended.",
        )
    if reason is ProblemReason.SLOT_UNLOCK_NOT_CONFIRMED:
        return compose(
            "Unlocking slot ",
            slot,
            " not confirmed: ",
            value(not_confirmed_reason(problem.detail or "Overbooked did not answer"), 300),
            ", so lockbot cannot tell whether it is unlocked. ",
            code(f"/slot status {problem.slot_id}"),
            " shows it; ",
            code(f"/slot unlock {problem.slot_id}"),
            " tries again.",
        )
    if reason is ProblemReason.SLOT_UNLOCK_FAILED:
        return compose("Could not unlock slot ", slot, ": ", _detail(problem, "Overbooked returned an error"), ".")
    assert reason is ProblemReason.SLOT_UNAVAILABLE
    return compose("Could not look up slot ", slot, ": ", _detail(problem, "Overbooked returned an error"), ".")


def render_problem(problem: Problem) -> SlackMessage:
    """Why a command did nothing, in plain words."""
    return _message(_problem_text(problem))


def render_not_allowed(refused: NotAllowed) -> SlackMessage:
    return _message(compose(f"You may not {refused.action} ", bold(refused.door), "."))


# -- unlock requests ---------------------------------------------------------------------------

APPROVE, DENY, CANCEL = "unlock_approve", "unlock_deny", "unlock_cancel"
DENY_REASON = "unlock_deny_reason"  # the button offering a reason, and the modal's callback id
DENY_REASON_INPUT = "reason"


def approvers_text(approvers: frozenset[str] | None) -> str:
    """Who may decide, as mentions (mrkdwn)."""
    return _approvers(approvers).mrkdwn()


def _approvers(approvers: frozenset[str] | None) -> Text:
    if approvers is None:
        return compose("a workspace admin or owner")
    if EVERYONE in approvers:
        return compose("anyone")
    if not approvers:
        return compose("nobody (the policy names no approvers for this door)")
    return join(", ", [mention(entry) for entry in sorted(approvers)])


def _button(action_id: str, label: str, request_id: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": request_id,
    }
    if style:
        button["style"] = style
    return button


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


def _without_emoji(text: str) -> str:
    return re.sub(r"^:[a-z_]+: ", "", text)


def render_request(
    request: UnlockRequest, approvers: frozenset[str] | None, outcome: ActionView | None = None
) -> SlackMessage:
    """The request message: who asks for which door and why; buttons while it is pending."""
    ask = compose(mention(request.requester), " asks to unlock ", bold(request.door))
    lines = [ask]
    if request.reason:
        lines.append(compose("Reason: ", value(request.reason, 500)))
    blocks: list[Block] = [_section(compose(":key: ", join("\n", lines)))]
    plain = [line.plain() for line in lines]
    decided = _decision_line(request)
    if decided is None:
        who = _approvers(approvers)
        context = compose(
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
        blocks.append(_context(context))
        blocks.append(
            {
                "type": "actions",
                "block_id": "unlock_request",
                "elements": [
                    _button(APPROVE, "Approve", request.id, "primary"),
                    _button(DENY, "Deny", request.id, "danger"),
                    _button(CANCEL, "Cancel request", request.id),
                ],
            }
        )
    else:
        icon, words = decided
        blocks.append(_context(compose(f"{icon} ", words)))
        plain.append(words.plain() + ".")
    if outcome is not None and request.state is RequestState.APPROVED:
        sentence = _outcome(outcome)
        blocks.append(_section(compose(f"{_icon(outcome)} ", sentence)))
        plain.append(sentence.plain())
    return SlackMessage(text=" ".join(plain), blocks=blocks)


def render_request_filed(filed: RequestFiled) -> SlackMessage:
    """The requester's ephemeral confirmation."""
    request = filed.request
    return _message(
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
        text = compose("Your request to unlock ", door, " was approved by ", decider, ". ", _outcome(outcome))
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
    return _message(text)


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
    return _message(_refusal(refused))


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
            return _message(compose("You approved ", requester, "'s request: unlocking ", door, " now."))
        if result.decision is Decision.DENY:
            denied = _message(compose("You denied ", requester, "'s request to unlock ", door, ". They've been told."))
            offer = {
                "type": "actions",
                "block_id": "deny_reason",
                "elements": [_button(DENY_REASON, "Add a reason", request.id)],
            }
            return SlackMessage(text=denied.text, blocks=[*denied.blocks, offer])
        return _message(compose("You cancelled your request to unlock ", door, "."))
    assert isinstance(result, AlreadyDecided)
    decided = _decision_line(request)
    what = decided[1] if decided else compose("It was already decided")
    if request.state in _DONE_BY and request.decided_by == clicker:
        what = compose(f"You already {_DONE_BY[request.state]} it")
    return _message(compose("Nothing changed: this request to unlock ", door, " is already closed. ", what, "."))


def _audit_line(entry: AuditEntry) -> Text:
    parts = [date(entry.at), mention(entry.actor), value(entry.event)]
    if entry.door:
        parts.append(bold(entry.door))
    parts.append(value(entry.outcome.replace("_", " ")))
    if entry.attempt_id:
        parts.append(compose("attempt ", code(entry.attempt_id)))
    if entry.detail:
        parts.append(value(entry.detail, 600))
    return join(" · ", parts)


def render_audit(view: AuditView) -> SlackMessage:
    title = compose("*Audit log: ", value(view.door, NAME_LIMIT), "*") if view.door else compose("*Audit log*")
    if not view.entries:
        return _message(compose(title, "\nNothing recorded yet."))
    lines = [_audit_line(entry) for entry in view.entries]
    heading = compose(title, " (newest first)")
    shown = fitting(lines, _TEXT_BUDGET - len(heading), "\n")
    text = join("\n", [heading, *lines[:shown]])
    if shown < len(lines):
        text = text + f"\n…and {len(lines) - shown} more (name a door to see only its entries)."
    return SlackMessage(text=text.plain(), blocks=[_section(heading), *(_section(chunk) for chunk in _chunks(lines))])


def render_deny_reason_modal(request_id: str) -> dict[str, Any]:
    """The modal in which a denier explains the denial; only the request id travels in it."""
    return {
        "type": "modal",
        "callback_id": DENY_REASON,
        "private_metadata": request_id,
        "title": {"type": "plain_text", "text": "Reason for denying"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": DENY_REASON_INPUT,
                "label": {"type": "plain_text", "text": "Why was the unlock denied?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": DENY_REASON_INPUT,
                    "multiline": True,
                    "max_length": 500,
                },
            }
        ],
    }


# -- slots --------------------------------------------------------------------------------------

SLOT_USAGE = (
    "Usage: `/slot lock &lt;slot_id&gt; &lt;30m | 2h | 1h30m | until 17:30 | ISO 8601&gt;`, "
    "`/slot unlock &lt;slot_id&gt;`, `/slot status &lt;slot_id&gt;`. Times like `until 17:30` are in your "
    "Slack time zone; ISO 8601 times need an offset, like `2026-11-22T17:30+01:00`."
)


def render_slot_usage(why: Text | str | None = None) -> SlackMessage:
    """The usage, after why the command could not be used (a `str` is lockbot's own words)."""
    return _message(compose(why, "\n", SLOT_USAGE) if why is not None else compose(SLOT_USAGE))


def render_bad_slot_command(bad: BadSlotCommand) -> SlackMessage:
    if bad.fault is SlotCommandFault.NOT_A_SLOT_ID:
        why = compose("“", _echo(bad.value), "” is not a slot id")
    else:
        why = compose("Cannot lock until then: ", value(bad.value, 300))
    return render_slot_usage(why)


def _slot_sentence(view: SlotView) -> Text:
    slot = code(view.slot_id, plain_ticks=False)
    until = date(view.until)
    if view.unlocked_by is not None and view.unlocked_at is not None:
        return compose(
            "Slot ",
            slot,
            " was locked until ",
            until,
            "; unlocked early by ",
            mention(view.unlocked_by),
            " ",
            date(view.unlocked_at),
            ".",
        )
    if view.state.working or view.state is ActionState.PENDING:
        return compose("Locking slot ", slot, " until ", until, "…")
    if view.state is ActionState.SUCCEEDED:
        return compose("Slot ", slot, " locked until ", until, ".")
    problem = value((view.problem or "Overbooked reported an error").rstrip("."), 300)
    if view.state is ActionState.FAILED:
        return compose("Could not lock slot ", slot, ": ", problem, ".")
    # Overbooked may hold the lock: say so plainly, and how to find out or undo it.
    return compose(
        "Locking slot ",
        slot,
        " not confirmed: ",
        value(not_confirmed_reason(view.problem or "Overbooked did not answer"), 300),
        ", so lockbot cannot tell whether slot ",
        slot,
        " is locked until ",
        until,
        ". ",
        code(f"/slot status {view.slot_id}", plain_ticks=False),
        " shows it; ",
        code(f"/slot unlock {view.slot_id}", plain_ticks=False),
        " releases it if it is.",
    )


def _slot_icon(view: SlotView) -> str:
    if view.unlocked_by is not None:
        return ":unlock:"
    return ":lock:" if view.state is ActionState.SUCCEEDED else _ICONS[view.state]


def render_slot_parent(view: SlotView) -> SlackMessage:
    sentence, context = _slot_sentence(view), compose("Requested by ", mention(view.requested_by))
    return SlackMessage(
        text=compose(sentence, " (", context, ")").plain(),
        blocks=[_section(compose(f"{_slot_icon(view)} ", sentence)), _context(context)],
    )


def render_slot_status(view: SlotView) -> SlackMessage:
    label = "Unlocked" if view.unlocked_by else _STATUS_LABEL[view.state]
    if view.state.working:
        sentence = compose(
            "asking Overbooked to lock slot ", code(view.slot_id, plain_ticks=False), " until ", date(view.until), "…"
        )
    else:
        sentence = _slot_sentence(view)
    return SlackMessage(
        text=compose(f"{label}: ", sentence).plain(),
        blocks=[_section(compose(f"{_slot_icon(view)} *{label}:* ", sentence))],
    )


def render_slot_status_reply(status: SlotStatus) -> SlackMessage:
    slot = status.slot
    name = code(slot.id, plain_ticks=False)
    if slot.locked_at(status.now) and slot.locked_until is not None:
        holder = (
            compose(" by ", mention(status.ours.locked_by), " (through lockbot)")
            if status.ours
            else compose(" (not by lockbot)")
        )
        first = compose(":lock: Slot ", name, " is locked until ", date(slot.locked_until), holder, ".")
    else:
        first = compose(":unlock: Slot ", name, " is not locked.")
    facts: list[Text] = []
    if slot.start_date and slot.end_date:
        facts.append(compose(date(slot.start_date), " to ", date(slot.end_date)))
    if slot.status:
        facts.append(compose("status ", value(slot.status, NAME_LIMIT)))
    if slot.available is not None:
        facts.append(compose("available for booking" if slot.available else "not available for booking"))
    if not slot.lockable:
        facts.append(compose("not lockable"))
    lines = [first] + ([join(" · ", facts)] if facts else [])
    return SlackMessage(
        text=" ".join(_without_emoji(line.plain()) for line in lines),
        blocks=[_section(lines[0]), *(_context(line) for line in lines[1:])],
    )


def render_slot_unlocked(unlocked: SlotUnlocked, by: str) -> SlackMessage:
    whose = compose("your") if unlocked.locked_by == by else compose(mention(unlocked.locked_by), "'s")
    return _message(compose("Unlocked ", whose, " lock on slot ", code(unlocked.slot_id), "."))


def render_slot_ran_out(slot_id: str, at: datetime) -> SlackMessage:
    """lockbot's lock on a slot already ran out: when, in each reader's own time zone."""
    return _message(
        compose(
            "The lock on slot ", code(slot_id), " already ran out at ", date(at), ", so there is nothing to unlock."
        )
    )


# -- notices ------------------------------------------------------------------------------------

_NOTICE_WORDS = {
    "lock.unlocked": (":unlock:", "unlocked"),
    "lock.locked": (":lock:", "locked"),
    "lock.access_denied": (":no_entry:", "access denied"),
    "device.disconnected": (":electric_plug:", "went offline"),
    "device.connected": (":white_check_mark:", "is back online"),
    "device.low_battery": (":battery:", "battery is low"),
}


def render_door_notice(notice: DoorNotice) -> SlackMessage:
    """One readable line: door, what happened (and how), when."""
    icon, what = _NOTICE_WORDS.get(notice.event_type, (":information_source:", ""))
    happened = compose(what) if what else value(notice.event_type, NAME_LIMIT)
    door = (
        bold(notice.door) if notice.known else compose("*a lock lockbot does not know (", code(notice.device_id), ")*")
    )
    how = compose(" (", value(notice.method, NAME_LIMIT), ")") if notice.method else compose()
    battery = f" ({notice.battery_level:.0%})" if notice.battery_level is not None else ""
    if notice.event_type == "lock.access_denied":
        sentence = compose("Access denied at ", door)
    else:
        sentence = compose(door, " ", happened, how, battery)
    return SlackMessage(
        text=compose(sentence, " at ", date(notice.at)).plain(),
        blocks=[_context(compose(f"{icon} ", sentence, " · ", date(notice.at)))],
    )


def render_outcome_notice(view: ActionView, approved_by: str | None) -> SlackMessage:
    """An action's outcome, announced in the door's notify channel."""
    sentence = _outcome(view)
    who = compose("asked by ", mention(view.requested_by))
    if approved_by:
        who = who + compose(", approved by ", mention(approved_by))
    return SlackMessage(
        text=compose(sentence, " (", who, ", through lockbot)").plain(),
        blocks=[_context(compose(f"{_icon(view)} ", sentence, " · ", who, ", through lockbot"))],
    )
