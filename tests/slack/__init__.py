"""Tests of bot/slack/: the Slack edge (messages, text, retries, signatures, replays)."""
