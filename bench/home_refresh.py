"""What publishing App Homes costs when one door changes while N people opened their Home in the last hour.

Runs lockbot (`python -m bot`, SQLite) against the fake Slack and Seam's fake on 127.0.0.1, with N
Homes opened in the last hour already stored, then locks one door with a signed `/lock` and measures
until every Home is published again: the Slack and Seam calls made, and how long the last Home took.

    python bench/home_refresh.py                 # 200 people
    python bench/home_refresh.py --people 50
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.store import Store  # noqa: E402
from tests.botprocess import BOT_TOKEN, BotProcess, command_body, signed_headers  # noqa: E402
from tests.conftest import bot_env  # noqa: E402
from tests.fakes.seam_fake import SeamFake  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

CHANNEL = "C0BENCH001"


async def _seed(url: str, users: list[str]) -> None:
    store = await Store.open(url)
    try:
        now = datetime.now(UTC)
        for index, user in enumerate(users):
            # Spread over the last hour, as people open Home through a working day.
            await store.home_opened(user, now - timedelta(minutes=59 * index / max(1, len(users))))
    finally:
        await store.close()


def _most_in_a_minute(times: list[float]) -> int:
    ordered, most, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 60:
            start += 1
        most = max(most, end - start + 1)
    return most


def run(people: int) -> None:
    slack = FakeSlack(BOT_TOKEN).start()
    seam = SeamFake(locks=["Front Door", "Back Door", "Garage Door", "Garden Gate"], action_delay_ms=300).start()
    users = [f"U0BENCH{number:04d}" for number in range(people)]
    slack.add_user("U0ADMIN001", is_admin=True)
    for user in users:
        slack.add_user(user)
    directory = Path(tempfile.mkdtemp(prefix="lockbot-home-bench-"))
    env = bot_env(slack, seam, directory)
    asyncio.run(_seed(env["DATABASE_URL"], users))
    bot = BotProcess(env, cwd=directory).start()
    try:
        seam_before = seam.calls()
        body = command_body(
            "/lock", "front door", user="U0ADMIN001", channel=CHANNEL, response_url=slack.response_url("b")
        )
        sent = time.time()
        assert bot.post_signed(body, headers=signed_headers(body)).status_code == 200

        def finished() -> float | None:
            for parent in slack.channel_messages(CHANNEL):
                replies = slack.replies(CHANNEL, parent.ts)
                if replies and replies[-1].text.startswith("Done:"):
                    return replies[-1].edited_at[-1] if replies[-1].edited_at else replies[-1].posted_at
            return None

        done_at = slack.wait_for(finished, 30, "the lock's outcome")
        slack.wait_for(
            lambda: all(slack.homes.get(user) for user in users), people * 1.5 + 60, "every Home published again"
        )
        publishes = [call for call in slack.calls_of("views.publish") if call.at >= sent]
        published_at = {call.params["user_id"]: call.at for call in publishes if call.ok}
        seam_after = seam.calls()
        lists = seam_after.get("/locks/list", 0) - seam_before.get("/locks/list", 0)
        first, last = min(published_at.values()), max(published_at.values())
        print(f"people with a Home opened in the last hour: {people}")
        print(f"views.publish calls: {len(publishes)} ({sum(not c.ok for c in publishes)} refused)")
        print(f"users.info calls: {sum(1 for c in slack.calls_of('users.info') if c.at >= sent)}")
        print(f"Seam /locks/list calls during the refresh: {lists}")
        print(f"outcome shown -> first Home published: {first - done_at:.2f} s")
        print(f"outcome shown -> last Home published: {last - done_at:.2f} s")
        print(f"most views.publish in any 60 s: {_most_in_a_minute([c.at for c in publishes])}")
    finally:
        bot.close()
        seam.stop()
        slack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200, help="Homes opened in the last hour [200]")
    run(parser.parse_args().people)


if __name__ == "__main__":
    main()
