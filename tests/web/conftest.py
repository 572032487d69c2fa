"""Fixtures of the web tests (defined in webtools.py, which tests import helpers from)."""

from webtools import app_client, browser  # noqa: F401
