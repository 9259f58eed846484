"""The policy file: TOML checked at start, defaults from SPEC, the file's keys overriding them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.durations import parse_duration
from bot.policy import DoorRules
from bot.policy_file import load_policy
from bot.seam import Lock

SPEC_EXAMPLE = """
[defaults]
direct_unlock = ["S012AB3CD"]   # users (U…, W…) or user groups (S…) who unlock without asking; "*" = everyone
approvers = ["U024BE7LH"]       # who may approve or deny unlock requests
approval_channel = "C0123456"   # where requests go; default: the channel the command came from
notify_channel = "C0654321"     # where outcomes and door events are announced; default: none
request_ttl = "15m"             # an undecided request expires after this

[doors."Server Room"]           # a Seam lock's name or device id; its keys override [defaults]
direct_unlock = []
approvers = ["S0SECURITY"]
approval_channel = "C0SECURE"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lockbot.toml"
    path.write_text(text)
    return path


def test_the_example_of_the_spec(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, SPEC_EXAMPLE))

    assert policy.defaults == DoorRules(
        direct_unlock=frozenset({"S012AB3CD"}),
        approvers=frozenset({"U024BE7LH"}),
        approval_channel="C0123456",
        notify_channel="C0654321",
        request_ttl=timedelta(minutes=15),
    )
    server_room = policy.rules_for(Lock(device_id="x", display_name="server room"))
    assert server_room == DoorRules(
        direct_unlock=frozenset(),
        approvers=frozenset({"S0SECURITY"}),
        approval_channel="C0SECURE",
        notify_channel="C0654321",  # left out: from [defaults]
        request_ttl=timedelta(minutes=15),
    )
    assert policy.groups() == frozenset({"S012AB3CD", "S0SECURITY"})


def test_keys_left_out_keep_the_spec_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, '[doors."Lab"]\nrequest_ttl = "1h30m"\n'))

    assert policy.defaults == DoorRules()
    lab = policy.rules_for(Lock(device_id="x", display_name="Lab"))
    assert lab.direct_unlock is None  # admins and owners
    assert lab.request_ttl == timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[defaults]\napprovers = ["bob"]\n',
            "lockbot.toml line 2: defaults.approvers.0: 'bob' is not a Slack user id",
        ),
        (
            '[defaults]\nnotify_channel = "general"\n',
            "line 2: defaults.notify_channel: 'general' is not a Slack channel id",
        ),
        ('[defaults]\nrequest_ttl = "soon"\n', "line 2: defaults.request_ttl: 'soon' is not a duration"),
        ('[defaults]\nrequest_ttl = "30d"\n', "line 2: defaults.request_ttl: '30d' is not a duration"),
        ('[defaults]\nrequest_ttl = "169h"\n', "line 2: defaults.request_ttl: '169h' is longer than 7 days"),
        (
            '[doors."Lab"]\nrequest_ttl = "167h60m1s"\n',
            "line 2: doors.Lab.request_ttl: '167h60m1s' is longer than 7 days",
        ),
        ('\n[defaults]\nttl = "15m"\n', "line 3: defaults.ttl: unknown key 'ttl'"),
        ('[doors."Lab"]\napprover = []\n', "line 2: doors.Lab.approver: unknown key 'approver'"),
        ("[settings]\nx = 1\n", "line 1: settings: unknown key 'settings'"),
        ('[defaults]\napprovers = ["U1" "U2"]\n', "lockbot.toml line 2: Unclosed array"),
        ('[defaults]\napprovers = ["U1"\n', "lockbot.toml line 2: Unclosed array"),
        ("[defaults]\nrequest_ttl = 15m\n", "lockbot.toml line 2: Expected newline"),
    ],
)
def test_a_bad_file_is_refused_with_its_line_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_policy(write(tmp_path, text))
    assert expected in str(raised.value)
    assert str(tmp_path / "lockbot.toml") in str(raised.value)


def test_a_request_ttl_of_exactly_7_days_is_allowed(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, '[defaults]\nrequest_ttl = "168h"\n'))

    assert policy.rules_for(Lock(device_id="x", display_name="Lab")).request_ttl == timedelta(days=7)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the policy file"):
        load_policy(tmp_path / "nope.toml")


@pytest.mark.parametrize(("text", "expected"), [("15m", 900), ("2h", 7200), ("1h30m", 5400), ("90s", 90)])
def test_durations(text: str, expected: int) -> None:
    assert parse_duration(text) == timedelta(seconds=expected)


@pytest.mark.parametrize("text", ["", "0m", "15", "m", "1.5h", "-5m", "15 minutes", "99999999999h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_relock_after_and_max_unlock_have_the_spec_defaults_and_are_overridden(tmp_path: Path) -> None:
    policy = load_policy(
        write(tmp_path, '[defaults]\nrelock_after = "5m"\nmax_unlock = "2h"\n[doors."Lab"]\nmax_unlock = "30m"\n')
    )

    assert DoorRules().relock_after is None
    assert DoorRules().max_unlock == timedelta(hours=12)
    assert policy.defaults.relock_after == timedelta(minutes=5)
    assert policy.defaults.max_unlock == timedelta(hours=2)
    lab = policy.rules_for(Lock(device_id="x", display_name="Lab"))
    assert (lab.relock_after, lab.max_unlock) == (timedelta(minutes=5), timedelta(minutes=30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[defaults]\nrelock_after = "soon"\n', "line 2: defaults.relock_after: 'soon' is not a duration"),
        ('[defaults]\nmax_unlock = "169h"\n', "line 2: defaults.max_unlock: '169h' is longer than 7 days"),
        ('[defaults]\nrelock_after = "9s"\n', "line 2: defaults.relock_after: '9s' is shorter than 10 seconds"),
        ('[doors."Lab"]\nmax_unlock = 5\n', "line 2: doors.Lab.max_unlock: Input should be a valid string"),
        (
            '[defaults]\nrelock_after = "3h"\nmax_unlock = "2h"\n',
            "defaults: relock_after is longer than max_unlock",
        ),
        ('[doors."Lab"]\nrelock_after = "13h"\n', "doors.Lab: relock_after is longer than max_unlock"),
    ],
)
def test_bad_unlock_durations_are_refused_with_their_place(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_policy(write(tmp_path, text))

    assert expected in str(raised.value)


FULL_SPEC_EXAMPLE = """
[defaults]
direct_unlock = ["S012AB3CD"]
approvers = ["U024BE7LH"]
approval_channel = "C0123456"
notify_channel = "C0654321"
request_ttl = "15m"
relock_after = "5m"
max_unlock = "2h"
alert_unlocked_after = "30m"
remind_after = "5m"
escalate_after = "15m"
escalate_to = ["S0SECURITY"]
reason_required = false
emergency = ["S0ONCALL"]

[doors."Server Room"]
direct_unlock = []
approvers = ["S0SECURITY"]
approval_channel = "C0SECURE"
reason_required = true
remind_after = "1m"
"""


def test_every_key_of_the_spec_example_is_read_and_doors_override_it(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, FULL_SPEC_EXAMPLE))

    rules = policy.defaults
    assert rules.alert_unlocked_after == timedelta(minutes=30)
    assert (rules.remind_after, rules.escalate_after) == (timedelta(minutes=5), timedelta(minutes=15))
    assert rules.escalate_to == frozenset({"S0SECURITY"})
    assert rules.reason_required is False
    assert rules.emergency == frozenset({"S0ONCALL"})
    server_room = policy.rules_for_door("D1", "Server Room")
    assert server_room.reason_required is True
    assert server_room.remind_after == timedelta(minutes=1)
    assert server_room.emergency == frozenset({"S0ONCALL"})  # left out: the defaults'
    assert {"S0SECURITY", "S0ONCALL", "S012AB3CD"} <= policy.groups()


def test_the_new_keys_default_to_nothing_happening(tmp_path: Path) -> None:
    rules = load_policy(write(tmp_path, "[defaults]\n")).defaults

    assert rules.alert_unlocked_after is None
    assert rules.remind_after is None
    assert rules.escalate_after is None
    assert rules.escalate_to == frozenset()
    assert rules.emergency == frozenset()
    assert rules.reason_required is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[defaults]\nremind_after = "often"\n', "line 2: defaults.remind_after: 'often' is not a duration"),
        ('[defaults]\nescalate_after = "5s"\n', "line 2: defaults.escalate_after: '5s' is shorter than 10 seconds"),
        ('[defaults]\nalert_unlocked_after = "200h"\n', "defaults.alert_unlocked_after: '200h' is longer than 7 days"),
        ('[defaults]\nescalate_to = ["security"]\n', "line 2: defaults.escalate_to.0: 'security' is not a Slack"),
        ('[defaults]\nemergency = ["#oncall"]\n', "line 2: defaults.emergency.0: '#oncall' is not a Slack"),
        ('[defaults]\nreason_required = "yes please"\n', "line 2: defaults.reason_required:"),
    ],
)
def test_bad_values_of_the_new_keys_are_refused_with_their_place(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_policy(write(tmp_path, text))

    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[defaults]\nremind_after = "5m"\nescalate_after = "15m"\n',
            "lockbot.toml line 3: defaults: escalate_after needs escalate_to",
        ),
        (
            '[defaults]\nescalate_after = "15m"\nescalate_to = []\n',
            "lockbot.toml line 2: defaults: escalate_after needs escalate_to",
        ),
        (
            '[defaults]\napprovers = ["U1AB"]\n\n[doors."Lab"]\nescalate_after = "10m"\n',
            "lockbot.toml line 5: doors.Lab: escalate_after needs escalate_to",
        ),
        (
            '[doors."Lab"]\nescalate_to = []\nescalate_after = "10m"\n',
            "lockbot.toml line 3: doors.Lab: escalate_after needs escalate_to",
        ),
    ],
)
def test_an_escalation_to_nobody_is_refused_with_its_place(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_policy(write(tmp_path, text))

    assert expected in str(refused.value)


def test_a_door_opts_out_of_an_inherited_escalation_with_an_empty_escalate_to(tmp_path: Path) -> None:
    text = '[defaults]\nescalate_after = "15m"\nescalate_to = ["S0SECURITY"]\n\n[doors."Lab"]\nescalate_to = []\n'

    policy = load_policy(write(tmp_path, text))

    lab = policy.rules_for_door("D1", "Lab")
    assert (lab.escalate_after, lab.escalate_to) == (timedelta(minutes=15), frozenset())
    assert policy.defaults.escalate_to == frozenset({"S0SECURITY"})


@pytest.mark.parametrize("escalate_after", ["5m", "2m"])
def test_an_escalation_at_or_before_the_first_reminder_is_allowed(tmp_path: Path, escalate_after: str) -> None:
    text = f'[defaults]\nremind_after = "5m"\nescalate_after = "{escalate_after}"\nescalate_to = ["S0SECURITY"]\n'

    rules = load_policy(write(tmp_path, text)).defaults

    assert rules.remind_after is not None
    assert rules.escalate_after == parse_duration(escalate_after) <= rules.remind_after


def test_a_relock_longer_than_max_unlock_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_policy(write(tmp_path, '[doors."Lab"]\nreason_required = true\nrelock_after = "13h"\n'))

    assert "lockbot.toml line 3: doors.Lab: relock_after is longer than max_unlock" in str(refused.value)
