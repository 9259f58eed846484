"""Tests of bot/store/: the database, by aggregate, and its migrations."""
