"""Hotline call-centre engine: a controller beside Asterisk speaking AMI and FastAGI."""

__version__ = "0.1.0"
