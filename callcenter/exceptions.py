"""Errors of the whole controller, each with a stable slug that logs and HTTP answers carry."""


class CallCenterError(Exception):
    """Base error: ``slug`` is stable and machine-readable, the message is for people."""

    def __init__(self, slug: str, message: str) -> None:
        super().__init__(message)
        self.slug = slug


class ConfigError(CallCenterError):
    """The settings file or environment is wrong; the message says which key and why."""


class AsteriskError(CallCenterError):
    """Provisioning or talking to Asterisk failed."""


class AmiError(CallCenterError):
    """An AMI action failed, timed out, or the connection is down."""
