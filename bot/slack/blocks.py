"""Block Kit for every lockbot message: pure functions of domain values.

Each message has a plain `text` that says the same as its blocks (notifications, screen readers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.actions import ActionKind, ActionPhase, ActionView
from bot.door_service import AuditView, DoorOverview
from bot.doors import DoorAmbiguous, DoorUnknown
from bot.policy import EVERYONE
from bot.records import AuditEntry, RequestState, UnlockRequest
from bot.seam import Lock
from bot.seam_events import DoorNotice
from bot.slots import SlotStatus, SlotUnlocked, SlotView
from bot.unlock_requests import (
    AlreadyDecided,
    Decided,
    Decision,
    DecisionRefused,
    DecisionResult,
    RequestFiled,
    RequestGone,
)

__all__ = [
    "APPROVE",
    "CANCEL",
    "DENY",
    "DENY_REASON",
    "DENY_REASON_INPUT",
    "SLOT_USAGE",
    "SlackMessage",
    "escape",
    "outcome_sentence",
    "render_action_parent",
    "render_action_status",
    "render_ambiguous_door",
    "render_audit",
    "render_decision_reply",
    "render_deny_reason_modal",
    "render_door_notice",
    "render_door_overview",
    "render_notice",
    "render_outcome_notice",
    "render_request",
    "render_request_filed",
    "render_requester_message",
    "render_slot_parent",
    "render_slot_status",
    "render_slot_status_reply",
    "render_slot_unlocked",
    "render_slot_usage",
    "render_unknown_door",
    "render_usage",
    "slack_date",
]

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Make text from people or APIs safe inside mrkdwn (no mentions, links or markup injected)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def _context(*markdown: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": item} for item in markdown]}


def _plain(markdown: str) -> str:
    return markdown.replace("*", "")


_ICONS = {
    ActionPhase.WORKING: ":hourglass_flowing_sand:",
    ActionPhase.PENDING: ":hourglass_flowing_sand:",
    ActionPhase.FAILED: ":warning:",
    ActionPhase.NOT_CONFIRMED: ":grey_question:",
}


def _icon(view: ActionView) -> str:
    if view.phase is ActionPhase.SUCCEEDED:
        return ":lock:" if view.kind is ActionKind.LOCK else ":unlock:"
    return _ICONS[view.phase]


def outcome_sentence(view: ActionView) -> str:
    """The action's state in one plain sentence (mrkdwn), the outcome's words kept whole ("Front Door unlocked")."""
    door = escape(view.door)
    verb = view.kind.value
    if view.phase is ActionPhase.WORKING:
        return f"{view.kind.gerund.capitalize()} {door}…"
    if view.phase is ActionPhase.PENDING:
        return f"{view.kind.gerund.capitalize()} {door}: waiting for the lock to confirm…"
    if view.phase is ActionPhase.SUCCEEDED:
        if not view.confirmed_by_device:
            return f"{door} {view.kind.past}, but the lock itself did not confirm it (unconfirmed by the device)."
        return f"{door} {view.kind.past}."
    if view.phase is ActionPhase.FAILED:
        return f"Could not {verb} {door}: {escape(view.problem or 'Seam reported an error')}."
    waited = f" within {view.timeout_seconds:g} s" if view.timeout_seconds else ""
    why = escape(view.problem) if view.problem else f"no outcome from the lock{waited}"
    return f"{view.kind.gerund.capitalize()} {door} not confirmed: {why}. Check the door before relying on it."


def _requested(view: ActionView) -> str:
    line = f"Requested by <@{view.requested_by}>"
    if view.reason:
        line += f" · reason: {escape(view.reason)}"
    return line


def render_action_parent(view: ActionView) -> SlackMessage:
    """The channel message: what was asked, then the final outcome."""
    if view.request is not None:
        return render_request(view.request, None, view)
    sentence = outcome_sentence(view)
    context = _requested(view)
    return SlackMessage(
        text=f"{_plain(sentence)} ({_plain(context)})",
        blocks=[_section(f"{_icon(view)} {sentence}"), _context(context)],
    )


_STATUS_LABEL = {
    ActionPhase.WORKING: "Working",
    ActionPhase.PENDING: "Pending",
    ActionPhase.SUCCEEDED: "Done",
    ActionPhase.FAILED: "Failed",
    ActionPhase.NOT_CONFIRMED: "Not confirmed",
}


def render_action_status(view: ActionView) -> SlackMessage:
    """The status message in the action's thread, edited as the action resolves."""
    label = _STATUS_LABEL[view.phase]
    if view.phase is ActionPhase.WORKING:
        sentence = f"asking Seam to {view.kind.value} *{escape(view.door)}*…"
    else:
        sentence = outcome_sentence(view)
    details = [f"Status: {label}"]
    if view.attempt_id:
        details.append(f"Seam action attempt `{escape(view.attempt_id)}`")
    return SlackMessage(
        text=f"{label}: {_plain(sentence)}",
        blocks=[_section(f"{_icon(view)} *{label}:* {sentence}"), _context(" · ".join(details))],
    )


_USAGE = {
    "/lock": ("/lock <door>", "Locks a door. Name it as in `/doors`, by a unique prefix, or by device id."),
    "/unlock": (
        "/unlock <door> [reason]",
        "Unlocks a door if you may unlock it directly; otherwise asks its approvers. Put a door name in "
        'quotes if the reason could be read as part of it: `/unlock "Back Door" parcel`.',
    ),
    "/doors": (
        "/doors [log [door]]",
        "Lists the doors: locked or unlocked, online or offline, and what you may do. "
        "`/doors log` shows approvers the recent audit log, of one door if you name it.",
    ),
}


def render_usage(command: str) -> SlackMessage:
    syntax, explanation = _USAGE.get(command, ("/lock <door>", "Locks a door."))
    lines = [f"Usage: `{syntax}`", explanation, "Try `/doors` to see every door."]
    return SlackMessage(text=" ".join(_plain(line) for line in lines), blocks=[_section("\n".join(lines))])


def _door_names(locks: Sequence[Lock]) -> str:
    return ", ".join(f"*{escape(lock.name)}*" for lock in sorted(locks, key=lambda lock: lock.name.casefold()))


def render_unknown_door(unknown: DoorUnknown) -> SlackMessage:
    query = escape(unknown.query.strip())
    if unknown.doors:
        markdown = f"I don't know a door called “{query}”. The doors are: {_door_names(unknown.doors)}."
    else:
        markdown = f"I don't know a door called “{query}”, and Seam lists no doors at all."
    return SlackMessage(text=_plain(markdown), blocks=[_section(markdown)])


def render_ambiguous_door(ambiguous: DoorAmbiguous) -> SlackMessage:
    markdown = (
        f"“{escape(ambiguous.query.strip())}” could be several doors: {_door_names(ambiguous.matches)}. "
        "Type more of the name."
    )
    return SlackMessage(text=_plain(markdown), blocks=[_section(markdown)])


def render_notice(markdown: str) -> SlackMessage:
    """A short ephemeral answer to the person who typed the command."""
    return SlackMessage(text=_plain(markdown), blocks=[_section(markdown)])


def _door_line(lock: Lock, may_lock: bool, may_unlock: bool) -> str:
    locked = {True: "locked", False: "unlocked", None: "lock state unknown"}[lock.locked]
    online = {True: "online", False: "offline", None: "connection unknown"}[lock.online]
    icon = ":lock:" if lock.locked else ":unlock:" if lock.locked is False else ":grey_question:"
    rights = [right for right, allowed in (("lock", may_lock), ("unlock", may_unlock)) if allowed]
    if not may_unlock:
        rights.append("request an unlock from an approver")
    you = "you can " + " and ".join(rights) if rights else "you can only look"
    return f"{icon} *{escape(lock.name)}* — {locked}, {online} — {you}"


def render_door_overview(overview: DoorOverview) -> SlackMessage:
    if not overview.doors:
        markdown = "Seam lists no doors for lockbot."
        return SlackMessage(text=markdown, blocks=[_section(markdown)])
    lines = [_door_line(door.lock, door.may_lock, door.may_unlock) for door in overview.doors]
    return SlackMessage(
        text="Doors: " + "; ".join(_plain(line.split(" ", 1)[1]) for line in lines),
        blocks=[_section(f"*Doors* ({len(lines)})"), *(_section(chunk) for chunk in _chunks(lines))],
    )


def _chunks(lines: Sequence[str], limit: int = 2900) -> list[str]:
    """Lines joined into as few sections as Slack's 3000-character limit allows."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line[:limit])
    return chunks


# -- unlock requests ---------------------------------------------------------------------------

APPROVE, DENY, CANCEL = "unlock_approve", "unlock_deny", "unlock_cancel"
DENY_REASON = "unlock_deny_reason"  # the button offering a reason, and the modal's callback id
DENY_REASON_INPUT = "reason"


def slack_date(moment: datetime) -> str:
    """A time every reader sees in their own time zone (Slack date formatting), UTC as fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _plain_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def approvers_text(approvers: frozenset[str] | None) -> str:
    """Who may decide, as mentions."""
    if approvers is None:
        return "a workspace admin or owner"
    if EVERYONE in approvers:
        return "anyone"
    if not approvers:
        return "nobody (the policy names no approvers for this door)"
    mentions = [f"<!subteam^{entry}>" if entry.startswith("S") else f"<@{entry}>" for entry in sorted(approvers)]
    return ", ".join(mentions)


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


def _decision_line(request: UnlockRequest) -> tuple[str, str] | None:
    """(mrkdwn, plain) saying how the request was decided, if it was."""
    when = request.decided_at
    if request.state is RequestState.APPROVED and when:
        return f":white_check_mark: Approved by <@{request.decided_by}> {slack_date(when)}", (
            f"Approved by <@{request.decided_by}> at {_plain_date(when)}"
        )
    if request.state is RequestState.DENIED and when:
        note = f": {escape(request.note)}" if request.note else ""
        return f":no_entry: Denied by <@{request.decided_by}> {slack_date(when)}{note}", (
            f"Denied by <@{request.decided_by}> at {_plain_date(when)}{note}"
        )
    if request.state is RequestState.CANCELLED:
        return (
            f":heavy_multiplication_x: Cancelled by <@{request.requester}>",
            f"Cancelled by <@{request.requester}>",
        )
    if request.state is RequestState.EXPIRED:
        return (
            f":hourglass: Expired {slack_date(request.expires_at)}: nobody decided in time",
            f"Expired at {_plain_date(request.expires_at)}: nobody decided in time",
        )
    return None


def render_request(
    request: UnlockRequest, approvers: frozenset[str] | None, outcome: ActionView | None = None
) -> SlackMessage:
    """The request message: who asks for which door and why; buttons while it is pending."""
    door = escape(request.door)
    ask = f":key: <@{request.requester}> asks to unlock *{door}*"
    lines = [ask]
    plain = [f"<@{request.requester}> asks to unlock {request.door}"]
    if request.reason:
        lines.append(f"Reason: {escape(request.reason)}")
        plain.append(f"Reason: {escape(request.reason)}")
    blocks: list[Block] = [_section("\n".join(lines))]
    decided = _decision_line(request)
    if decided is None:
        who = approvers_text(approvers)
        context = (
            f"Approvers: {who} · expires {slack_date(request.expires_at)} · only <@{request.requester}> can cancel"
        )
        plain.append(
            f"Approvers: {who}. Expires at {_plain_date(request.expires_at)}. Only <@{request.requester}> can cancel."
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
        blocks.append(_context(decided[0]))
        plain.append(decided[1] + ".")
    if outcome is not None and request.state is RequestState.APPROVED:
        sentence = outcome_sentence(outcome)
        blocks.append(_section(f"{_icon(outcome)} {sentence}"))
        plain.append(_plain(sentence))
    return SlackMessage(text=" ".join(plain), blocks=blocks)


def render_request_filed(filed: RequestFiled) -> SlackMessage:
    """The requester's ephemeral confirmation."""
    request = filed.request
    return render_notice(
        f"You may not unlock *{escape(request.door)}* directly, so I've asked {approvers_text(filed.approvers)} "
        f"in <#{request.channel}>. Your request expires {slack_date(request.expires_at)}; "
        "I'll message you when it is decided."
    )


def render_requester_message(request: UnlockRequest, outcome: ActionView | None) -> SlackMessage:
    """The direct message telling the requester what became of the request."""
    door = f"*{escape(request.door)}*"
    if request.state is RequestState.APPROVED and outcome is not None:
        markdown = f"Your request to unlock {door} was approved by <@{request.decided_by}>. {outcome_sentence(outcome)}"
    elif request.state is RequestState.DENIED:
        note = f": {escape(request.note)}" if request.note else "."
        markdown = f"Your request to unlock {door} was denied by <@{request.decided_by}>{note}"
    elif request.state is RequestState.EXPIRED:
        markdown = f"Your request to unlock {door} expired: nobody decided in time. You can ask again with /unlock."
    elif request.state is RequestState.CANCELLED:
        markdown = f"Your request to unlock {door} was cancelled."
    else:
        markdown = f"Your request to unlock {door} is waiting for approval."
    return render_notice(markdown)


_DONE_BY = {
    RequestState.APPROVED: "approved",
    RequestState.DENIED: "denied",
}


def render_decision_reply(result: DecisionResult, clicker: str) -> SlackMessage:
    """The ephemeral answer to whoever clicked a request's button."""
    if isinstance(result, RequestGone):
        return render_notice("This request no longer exists.")
    if isinstance(result, DecisionRefused):
        return render_notice(result.why)
    request = result.request
    door = f"*{escape(request.door)}*"
    if isinstance(result, Decided):
        if result.decision is Decision.APPROVE:
            return render_notice(f"You approved <@{request.requester}>'s request: unlocking {door} now.")
        if result.decision is Decision.DENY:
            denied = render_notice(f"You denied <@{request.requester}>'s request to unlock {door}. They've been told.")
            offer = {
                "type": "actions",
                "block_id": "deny_reason",
                "elements": [_button(DENY_REASON, "Add a reason", request.id)],
            }
            return SlackMessage(text=denied.text, blocks=[*denied.blocks, offer])
        return render_notice(f"You cancelled your request to unlock {door}.")
    assert isinstance(result, AlreadyDecided)
    decided = _decision_line(request)
    what = decided[1] if decided else "It was already decided"
    if request.state in _DONE_BY and request.decided_by == clicker:
        what = f"You already {_DONE_BY[request.state]} it"
    return render_notice(f"Nothing changed: this request to unlock {door} is already closed. {what}.")


def _audit_line(entry: AuditEntry, *, plain: bool) -> str:
    actor = f"<@{entry.actor}>" if entry.actor.startswith(("U", "W")) else entry.actor
    parts = [_plain_date(entry.at) if plain else slack_date(entry.at), actor, entry.event]
    if entry.door:
        parts.append(entry.door if plain else f"*{escape(entry.door)}*")
    parts.append(entry.outcome.replace("_", " "))
    if entry.attempt_id:
        parts.append(f"attempt {entry.attempt_id}" if plain else f"attempt `{escape(entry.attempt_id)}`")
    if entry.detail:
        parts.append(escape(entry.detail))
    return " · ".join(parts)


def render_audit(view: AuditView) -> SlackMessage:
    title = f"*Audit log: {escape(view.door)}*" if view.door else "*Audit log*"
    if not view.entries:
        return render_notice(f"{title}\nNothing recorded yet.")
    lines = [_audit_line(entry, plain=False) for entry in view.entries]
    plain = [_audit_line(entry, plain=True) for entry in view.entries]
    return SlackMessage(
        text="\n".join([f"{_plain(title)} (newest first)", *plain]),
        blocks=[_section(f"{title} (newest first)"), *(_section(chunk) for chunk in _chunks(lines))],
    )


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
    "Usage: `/slot lock <slot_id> <30m | 2h | 1h30m | until 17:30 | ISO 8601>`, `/slot unlock <slot_id>`, "
    "`/slot status <slot_id>`. Times like `until 17:30` are in your Slack time zone; ISO 8601 times need an "
    "offset, like `2026-11-22T17:30+01:00`."
)


def render_slot_usage(why: str | None = None) -> SlackMessage:
    markdown = f"{escape(why)}\n{SLOT_USAGE}" if why else SLOT_USAGE
    return render_notice(markdown)


def _slot_sentence(view: SlotView, *, plain: bool) -> str:
    slot = f"slot {view.slot_id}" if plain else f"slot `{escape(view.slot_id)}`"
    until = _plain_date(view.until) if plain else slack_date(view.until)
    if view.unlocked_by is not None and view.unlocked_at is not None:
        when = _plain_date(view.unlocked_at) if plain else slack_date(view.unlocked_at)
        return f"S{slot[1:]} was locked until {until}; unlocked early by <@{view.unlocked_by}> {when}."
    if view.phase in (ActionPhase.WORKING, ActionPhase.PENDING):
        return f"Locking {slot} until {until}…"
    if view.phase is ActionPhase.SUCCEEDED:
        return f"S{slot[1:]} locked until {until}."
    problem = escape(view.problem or "Overbooked reported an error")
    if view.phase is ActionPhase.FAILED:
        return f"Could not lock {slot}: {problem}."
    # Overbooked may hold the lock: say so plainly, and how to find out or undo it.
    tick = "" if plain else "`"
    slot_id = view.slot_id if plain else escape(view.slot_id)
    status, unlock = (f"{tick}/slot {verb} {slot_id}{tick}" for verb in ("status", "unlock"))
    return (
        f"Locking {slot} not confirmed: {problem}, so lockbot cannot tell whether {slot} is locked until {until}. "
        f"{status} shows it; {unlock} releases it if it is."
    )


def _slot_icon(view: SlotView) -> str:
    if view.unlocked_by is not None:
        return ":unlock:"
    return ":lock:" if view.phase is ActionPhase.SUCCEEDED else _ICONS[view.phase]


def render_slot_parent(view: SlotView) -> SlackMessage:
    context = f"Requested by <@{view.requested_by}>"
    return SlackMessage(
        text=f"{_slot_sentence(view, plain=True)} ({context})",
        blocks=[_section(f"{_slot_icon(view)} {_slot_sentence(view, plain=False)}"), _context(context)],
    )


def render_slot_status(view: SlotView) -> SlackMessage:
    label = "Unlocked" if view.unlocked_by else _STATUS_LABEL[view.phase]
    if view.phase is ActionPhase.WORKING:
        plain = f"asking Overbooked to lock slot {view.slot_id} until {_plain_date(view.until)}…"
        markdown = f"asking Overbooked to lock slot `{escape(view.slot_id)}` until {slack_date(view.until)}…"
    else:
        plain, markdown = _slot_sentence(view, plain=True), _slot_sentence(view, plain=False)
    return SlackMessage(text=f"{label}: {plain}", blocks=[_section(f"{_slot_icon(view)} *{label}:* {markdown}")])


def render_slot_status_reply(status: SlotStatus) -> SlackMessage:
    slot = status.slot
    name = f"`{escape(slot.id)}`"
    lines: list[tuple[str, str]] = []
    if slot.locked_at(status.now) and slot.locked_until is not None:
        holder = f" by <@{status.ours.locked_by}> (through lockbot)" if status.ours else " (not by lockbot)"
        lines.append(
            (
                f":lock: Slot {name} is locked until {slack_date(slot.locked_until)}{holder}.",
                f"Slot {slot.id} is locked until {_plain_date(slot.locked_until)}{holder}.",
            )
        )
    else:
        lines.append((f":unlock: Slot {name} is not locked.", f"Slot {slot.id} is not locked."))
    facts = []
    if slot.start_date and slot.end_date:
        facts.append(
            (
                f"{slack_date(slot.start_date)} to {slack_date(slot.end_date)}",
                f"{_plain_date(slot.start_date)} to {_plain_date(slot.end_date)}",
            )
        )
    if slot.status:
        facts.append((f"status {escape(slot.status)}", f"status {slot.status}"))
    if slot.available is not None:
        word = "available for booking" if slot.available else "not available for booking"
        facts.append((word, word))
    if not slot.lockable:
        facts.append(("not lockable", "not lockable"))
    if facts:
        lines.append((" · ".join(f[0] for f in facts), " · ".join(f[1] for f in facts)))
    return SlackMessage(
        text=" ".join(line[1] for line in lines),
        blocks=[_section(lines[0][0]), *(_context(line[0]) for line in lines[1:])],
    )


def render_slot_unlocked(unlocked: SlotUnlocked, by: str) -> SlackMessage:
    whose = "your" if unlocked.locked_by == by else f"<@{unlocked.locked_by}>'s"
    return render_notice(f"Unlocked {whose} lock on slot `{escape(unlocked.slot_id)}`.")


def render_slot_ran_out(slot_id: str, at: datetime) -> SlackMessage:
    """lockbot's lock on a slot already ran out: when, in each reader's own time zone."""
    sentence = "The lock on slot `{slot}` already ran out at {at}, so there is nothing to unlock."
    return SlackMessage(
        text=sentence.format(slot=slot_id, at=_plain_date(at)),
        blocks=[_section(sentence.format(slot=escape(slot_id), at=slack_date(at)))],
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
    icon, what = _NOTICE_WORDS.get(notice.event_type, (":information_source:", notice.event_type))
    door = escape(notice.door) if notice.known else f"a lock lockbot does not know (`{escape(notice.device_id)}`)"
    how = f" ({notice.method})" if notice.method else ""
    battery = f" ({notice.battery_level:.0%})" if notice.battery_level is not None else ""
    if notice.event_type == "lock.access_denied":
        sentence, plain = f"Access denied at *{door}*", f"Access denied at {_plain(door)}"
    else:
        sentence, plain = f"*{door}* {what}{how}{battery}", f"{_plain(door)} {what}{how}{battery}"
    return SlackMessage(
        text=f"{plain} at {_plain_date(notice.at)}",
        blocks=[_context(f"{icon} {sentence} · {slack_date(notice.at)}")],
    )


def render_outcome_notice(view: ActionView, approved_by: str | None) -> SlackMessage:
    """An action's outcome, announced in the door's notify channel."""
    sentence = outcome_sentence(view)
    who = f"asked by <@{view.requested_by}>" + (f", approved by <@{approved_by}>" if approved_by else "")
    return SlackMessage(
        text=f"{_plain(sentence)} ({who}, through lockbot)",
        blocks=[_context(f"{_icon(view)} {sentence} · {who}, through lockbot")],
    )
