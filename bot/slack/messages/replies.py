"""Short answers to a command that did nothing: why (a `Problem`), or lockbot's own words for it."""

from __future__ import annotations

from datetime import timedelta

from bot.durations import spoken_duration
from bot.model import ActionKind
from bot.replies import Problem, ProblemReason
from bot.slack.messages.outcomes import not_confirmed_reason
from bot.slack.messages.primitives import SlackMessage, section_message
from bot.slack.text import Text, bold, code, compose, mention, value

__all__ = ["render_notice", "render_problem"]


def render_notice(markdown: Text | str) -> SlackMessage:
    """A short ephemeral answer to the person who typed the command (a `str` is lockbot's own mrkdwn)."""
    return section_message(compose(markdown))


_PROBLEM_WORDS = {
    ProblemReason.PROFILE_UNAVAILABLE: (
        "Could not look up your Slack profile to check what you may do; try again shortly."
    ),
    ProblemReason.LOG_FOR_APPROVERS: "Only approvers can read the audit log.",
}


def _detail(problem: Problem, fallback: str) -> Text:
    return value((problem.detail or fallback).rstrip("."), 300)


def _unknown_why(problem: Problem) -> str:
    if problem.status is not None:
        return f"Overbooked answered with a server error (HTTP {problem.status})"
    return problem.detail or "Overbooked did not answer"


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
    if reason is ProblemReason.NO_REQUEST_CHANNEL:
        return compose(
            "Requests for ",
            bold(problem.door or "this door"),
            " go to the channel they are asked in, and Home is not a channel: ask with `/unlock` in a "
            "channel where its approvers will see it.",
        )
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
            value(not_confirmed_reason(_unknown_why(problem)), 300),
            ", so lockbot cannot tell whether it is unlocked. ",
            code(f"/slot status {problem.slot_id}"),
            " shows it; ",
            code(f"/slot unlock {problem.slot_id}"),
            " tries again.",
        )
    if reason is ProblemReason.SLOT_UNLOCK_FAILED:
        return compose("Could not unlock slot ", slot, ": ", _detail(problem, "Overbooked returned an error"), ".")
    if reason is ProblemReason.SLOT_UNAVAILABLE:
        return compose("Could not look up slot ", slot, ": ", _detail(problem, "Overbooked returned an error"), ".")
    if reason is ProblemReason.UNLOCK_TOO_LONG:
        return compose(
            bold(problem.door or "This door"),
            f" may be unlocked for at most {spoken_duration(problem.duration or timedelta(0))}; nothing was "
            "unlocked. Ask for less time.",
        )
    if reason is ProblemReason.UNLOCK_TOO_SHORT:
        return compose(
            f"The shortest timed unlock is {spoken_duration(problem.duration or timedelta(0))}; nothing was unlocked."
        )
    if reason is ProblemReason.UNLOCK_TIME_UNUSABLE:
        return compose(
            "Nothing was unlocked: ",
            _detail(problem, "that is not a duration"),
            ". Say how long like `/unlock front door 10m` or `/unlock front door until 17:30`.",
        )
    if reason is ProblemReason.REASON_REQUIRED:
        door = problem.door or "the door"
        return compose(
            bold(door), " needs a reason: ", code(f"/unlock {door} [for 10m] <reason>"), ". Nothing was unlocked."
        )
    if reason is ProblemReason.EMERGENCY_NOT_LISTED:
        door = problem.door or "this door"
        return compose(
            "You are not on the emergency list for ",
            bold(door),
            "; nothing was unlocked. Use ",
            code(f"/unlock {door} <reason>"),
            " to ask an approver.",
        )
    if reason is ProblemReason.EMERGENCY_NEEDS_REASON:
        door = problem.door or "the door"
        return compose(
            "An emergency unlock needs a reason: ",
            code(f"/unlock {door} --emergency <reason>"),
            ". Nothing was unlocked.",
        )
    if reason is ProblemReason.DOOR_NOT_FOUND:
        return compose(
            "Nothing was locked: lockbot knows no door ",
            code(problem.detail or "", 40),
            ". It may have been removed; ",
            "`/doors` lists the doors.",
        )
    if reason is ProblemReason.MAY_NOT_LOCK:
        return compose("You may not lock ", bold(problem.door or "this door"), "; nothing was locked.")
    if reason is ProblemReason.LOCK_IN_FLIGHT:
        who = compose(" (asked by ", mention(problem.user), ")") if problem.user else compose()
        return compose(bold(problem.door or "This door"), " is being locked already", who, "; no second lock was sent.")
    # A reason that belongs to an action's problem, not to a command's answer: its detail, as it is.
    return compose(_detail(problem, "Something went wrong"), ".")


def render_problem(problem: Problem) -> SlackMessage:
    """Why a command did nothing, in plain words."""
    return section_message(_problem_text(problem))
