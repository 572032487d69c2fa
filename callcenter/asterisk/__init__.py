"""The embedded Asterisk: provisioning (a cached Debian unstable root), config, start and stop."""

from callcenter.asterisk.config import layout, render_config
from callcenter.asterisk.provision import ensure_root, is_running, rx, start, stop, write_config

__all__ = ["ensure_root", "is_running", "layout", "render_config", "rx", "start", "stop", "write_config"]
