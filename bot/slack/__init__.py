"""The edge facing Slack: listeners, Block Kit, and Slack-backed adapters for the domain."""

__all__: list[str] = []  # import from the modules
