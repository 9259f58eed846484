"""lockbot: lock and unlock doors (Seam) and hold booking slots (Overbooked) from Slack."""

__all__: list[str] = []  # import from the modules
