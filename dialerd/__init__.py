"""dialerd: an outbound dialer daemon for Asterisk."""

__version__ = "0.1.0"
