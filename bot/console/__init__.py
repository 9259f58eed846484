"""`python -m bot console`: lockbot in a terminal, with a stand-in for Slack that prints what it is sent."""

__all__: list[str] = []
