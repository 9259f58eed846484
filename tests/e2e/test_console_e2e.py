"""`python -m bot console` as a real process, typed to through a pipe, against Seam's fake."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.botprocess import ROOT
from tests.conftest import LOCKS
from tests.databases import DATABASE_KINDS, fresh_database
from tests.fakes.seam_fake import SeamFake

MEMBER = "U0MEMBER01"
ACTION_DELAY_S = 1.5


@pytest.fixture(scope="module")
def slow_seam() -> Iterator[SeamFake]:
    """Seam's fake with attempts that take 1.5 s, so an unlock is still pending when the input ends."""
    fake = SeamFake(locks=LOCKS, action_delay_ms=int(ACTION_DELAY_S * 1000)).start()
    yield fake
    fake.stop()


@dataclass
class Session:
    returncode: int
    lines: list[str]
    stderr: str
    seconds: float

    @property
    def out(self) -> str:
        return "\n".join(self.lines)


def console(
    typed: str,
    *args: str,
    cwd: Path,
    seam: SeamFake | None,
    env: dict[str, str] | None = None,
) -> Session:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEAM_", "OVERBOOKED_", "LOCKBOT_"))},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{cwd / 'console.db'}",
        **({"SEAM_API_KEY": seam.api_key, "SEAM_ENDPOINT": seam.url} if seam is not None else {}),
        **(env or {}),
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console", *args],
        input=typed,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=90,
        check=False,
    )
    return Session(done.returncode, done.stdout.splitlines(), done.stderr, time.monotonic() - started)


def test_doors_lists_the_fakes_doors_without_any_slack_setting(slow_seam: SeamFake, tmp_path: Path) -> None:
    # A Slack token that would stop `python -m bot` is not even read by the console.
    session = console("/doors\n", "--admin", cwd=tmp_path, seam=slow_seam, env={"SLACK_BOT_TOKEN": "nonsense"})
    assert session.returncode == 0, session.stderr
    assert session.lines[0] == f"[#console, only you] lockbot: Doors ({len(LOCKS)})"
    for door in LOCKS:
        assert any(line.strip().startswith(f"🔒 {door} — locked, online") for line in session.lines), session.out
    # Piped input: no prompt and no greeting, only what lockbot says.
    assert not any(line.startswith(("> ", "lockbot console")) for line in session.lines), session.out


def test_unlock_shows_the_thread_and_its_edits_and_waits_for_the_outcome(slow_seam: SeamFake, tmp_path: Path) -> None:
    unlocks_before = slow_seam.calls().get("/locks/unlock_door", 0)
    session = console("/unlock front door\n", "--admin", cwd=tmp_path, seam=slow_seam)
    assert session.returncode == 0, session.stderr
    lines = session.lines
    assert lines[0] == "[#console] lockbot: ⏳ Unlocking Front Door…"
    assert lines[1].strip() == "Requested by @UCONSOLE"
    assert lines[2] == "  ↳ thread: ⏳ Working: asking Seam to unlock Front Door…"
    assert "  ↳ thread: ⏳ Pending: Unlocking Front Door: waiting for the lock to confirm… (edited)" in lines
    # The input ended at once; the session still waited for Seam's 1.5 s attempt to end.
    assert "  ↳ thread: 🔓 Done: Front Door unlocked. (edited)" in lines, session.out
    assert lines[-2:] == ["[#console] lockbot: 🔓 Front Door unlocked. (edited)", "    Requested by @UCONSOLE"]
    assert session.seconds >= ACTION_DELAY_S
    assert slow_seam.calls().get("/locks/unlock_door", 0) == unlocks_before + 1
    assert slow_seam.lock_state(slow_seam.device_id("Front Door"))["locked"] is False


def test_replies_in_an_earlier_thread_name_their_parent(slow_seam: SeamFake, tmp_path: Path) -> None:
    session = console("/unlock garage\n/lock garden\n", "--admin", cwd=tmp_path, seam=slow_seam)
    assert session.returncode == 0, session.stderr
    # The garage's outcome comes after the gate's parent was posted: it says whose thread it is in.
    assert "  ↳ thread of “⏳ Unlocking Garage Door…”: 🔓 Done: Garage Door unlocked. (edited)" in session.lines
    assert "[#console] lockbot: 🔒 Garden Gate locked. (edited)" in session.lines


def test_a_members_request_gets_numbered_buttons_that_work(slow_seam: SeamFake, tmp_path: Path) -> None:
    unlocks_before = slow_seam.calls().get("/locks/unlock_door", 0)
    session = console("/unlock back door the van is here\n1\n3\n3\n", "--user", MEMBER, cwd=tmp_path, seam=slow_seam)
    assert session.returncode == 0, session.stderr
    lines = session.lines
    assert lines[0] == f"[#console] lockbot: 🔑 @{MEMBER} asks to unlock Back Door"
    assert "    [1] Approve  [2] Deny  [3] Cancel request" in lines, session.out
    # Pressing Approve on one's own request is refused, in plain words, and changes nothing.
    at = lines.index("(pressed [1] Approve)")
    assert lines[at + 1] == "[#console, only you] lockbot: You can't approve your own request."
    at = lines.index("(pressed [3] Cancel request)")
    assert lines[at + 1] == f"[#console] lockbot: 🔑 @{MEMBER} asks to unlock Back Door (edited)"
    assert f"    ✖ Cancelled by @{MEMBER}" in lines[at + 2 : at + 5]
    assert "[#console, only you] lockbot: You cancelled your request to unlock Back Door." in lines
    # The buttons went with the edit: their numbers press nothing now.
    assert lines[-1] == "There is no button [3] now (its message may have changed)."
    assert slow_seam.calls().get("/locks/unlock_door", 0) == unlocks_before


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_a_request_filed_in_one_session_is_kept_in_the_database(kind: str, slow_seam: SeamFake, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        filed = console("/unlock garage\n", "--user", MEMBER, cwd=tmp_path, seam=slow_seam, env={"DATABASE_URL": url})
        session = console("/doors log garage\n", "--admin", cwd=tmp_path, seam=slow_seam, env={"DATABASE_URL": url})
    assert filed.returncode == 0, filed.stderr
    assert session.returncode == 0, session.stderr
    assert any("request" in line and f"@{MEMBER}" in line and "Garage Door" in line for line in session.lines), (
        session.out
    )
    # On a database several instances share, the console says it is one more of them.
    assert ("one more lockbot instance" in session.stderr) == (kind == "postgresql")


def test_mistakes_are_said_in_plain_words(slow_seam: SeamFake, tmp_path: Path) -> None:
    session = console("/opensesame\n/unlock nowhere\nhello\n7\n", "--admin", cwd=tmp_path, seam=slow_seam)
    assert session.returncode == 0, session.stderr
    assert (
        session.lines[0]
        == "Unknown command “/opensesame”. lockbot knows /doors, /lock, /unlock, /slot; help says more."
    )
    assert session.lines[1].startswith("[#console, only you] lockbot: I don't know a door called “nowhere”.")
    assert "Not a command: “hello”. Type /doors, /unlock <door>, a button's number, or help." in session.lines
    assert session.lines[-1] == "There is no button [7] now (its message may have changed)."


def test_without_a_seam_key_doors_are_not_configured(tmp_path: Path) -> None:
    session = console("/doors\n/lock front\n", "--admin", cwd=tmp_path, seam=None)
    assert session.returncode == 0, session.stderr
    assert [line for line in session.lines if "Doors are not configured" in line] == [
        "[#console, only you] lockbot: Doors are not configured: lockbot has no Seam API key (SEAM_API_KEY). "
        "Ask the person who runs lockbot."
    ] * 2


def test_a_user_id_that_is_not_one_is_refused(tmp_path: Path) -> None:
    session = console("/doors\n", "--user", "alice", cwd=tmp_path, seam=None)
    assert session.returncode == 2
    assert "--user must be a Slack user id" in session.stderr


def test_typing_as_an_admin_approves_a_members_request_and_the_unlock_runs(slow_seam: SeamFake, tmp_path: Path) -> None:
    unlocks_before = slow_seam.calls().get("/locks/unlock_door", 0)
    typed = "/unlock garden gate\nas U0BOSS0001 admin\n1\n"
    session = console(typed, "--user", MEMBER, cwd=tmp_path, seam=slow_seam)
    assert session.returncode == 0, session.stderr
    lines = session.lines
    assert "You are @U0BOSS0001 now (a workspace admin)." in lines
    at = lines.index("(pressed [1] Approve)")
    assert (
        lines[at + 1] == f"[#console, only you] lockbot: You approved @{MEMBER}'s request: unlocking Garden Gate now."
    )
    assert f"[#console] lockbot: 🔑 @{MEMBER} asks to unlock Garden Gate (edited)" in lines[at:]
    assert any(line.strip().startswith("✅ Approved by @U0BOSS0001") for line in lines[at + 1 :]), session.out
    # The approved unlock runs in the request's thread, to its end, and the requester is told by DM.
    assert "  ↳ thread: 🔓 Done: Garden Gate unlocked. (edited)" in lines, session.out
    assert any(line.startswith(f"[DM to @{MEMBER}] lockbot: ") for line in lines), session.out
    assert slow_seam.calls().get("/locks/unlock_door", 0) == unlocks_before + 1


def test_a_user_keeps_what_they_are_within_a_session(tmp_path: Path) -> None:
    session = console("as U0BOSS0001\nas U0BOSS0001 admin\nas someone\n", cwd=tmp_path, seam=None)
    assert session.lines == [
        "You are @U0BOSS0001 now (not an admin).",
        "@U0BOSS0001 is not an admin in this session; take another user id to be otherwise.",
        "Say who: as U0ALICE01, or as U0ALICE01 admin for a workspace admin.",
    ]


def test_a_denial_and_its_reason_given_in_the_dialog(slow_seam: SeamFake, tmp_path: Path) -> None:
    typed = "/unlock back\nas U0BOSS0001 admin\n2\n4\n\n4\nnot on a <!here> Sunday\n"
    session = console(typed, "--user", MEMBER, cwd=tmp_path, seam=slow_seam)
    assert session.returncode == 0, session.stderr
    lines = session.lines
    assert "    [4] Add a reason" in lines, session.out
    dialog = (
        "[dialog] Reason for denying: Why was the unlock denied? "
        "Type the answer on one line (an empty line closes the dialog)."
    )
    assert lines.count(dialog) == 2
    assert "(dialog closed)" in lines
    # The reason shows on the request and reaches the requester, as typed: it pings nobody.
    assert "    ⛔ Denied by @U0BOSS0001 today at" in " ".join(lines)
    assert any(line.endswith(": not on a <!here> Sunday") and "Denied by @U0BOSS0001" in line for line in lines)
    assert any(line.startswith(f"[DM to @{MEMBER}]") and "not on a <!here> Sunday" in line for line in lines)
    assert "(dialog sent)" in lines
