"""lockbot: lock and unlock doors (Seam) and hold booking slots (Overbooked) from Slack."""
