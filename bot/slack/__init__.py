"""The edge facing Slack: listeners, Block Kit, and Slack-backed adapters for the domain."""
