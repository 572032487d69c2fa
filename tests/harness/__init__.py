"""Test harness: the real Asterisk (embedded, test instance) and baresip phones.

``env`` builds the test Settings, ``polling`` waits for conditions, ``queue_log`` reads
app_queue's log.  The fixtures themselves live in ``tests/conftest.py``.
"""

from harness.env import TEST_PORTS, make_test_settings
from harness.polling import eventually
from harness.queue_log import QueueLogEntry, read_queue_log

__all__ = ["TEST_PORTS", "QueueLogEntry", "eventually", "make_test_settings", "read_queue_log"]
