"""End-to-end tests: lockbot as a real process against the fake Slack, Seam and Overbooked over sockets."""
