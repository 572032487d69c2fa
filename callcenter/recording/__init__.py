"""Call recording: MixMonitor on every answered call, the file linked to its ticket (see service.py)."""
