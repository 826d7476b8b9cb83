"""Exceptions raised by tcpkit, and the map from C result codes to them.

The native module imports this module to raise these classes, so that
``tcpkit.Error`` raised from Rust and from Python is the same class.
"""

from __future__ import annotations

__all__ = ["Error", "PacketError", "RESULT_NAMES"]


class Error(Exception):
    """Base class of tcpkit's own errors.

    ``code`` is the C ABI result code (``TCPKIT_ERR_*``) that caused it, or
    ``None`` when it was raised by the Python layer itself.
    """

    code: int | None

    def __init__(self, *args: object, code: int | None = None) -> None:
        super().__init__(*args)
        self.code = code


class PacketError(Error, ValueError):
    """A fed packet was malformed or had a bad checksum (counted and dropped)."""


# Shown as tcpkit.Error / tcpkit.PacketError in tracebacks.
Error.__module__ = "tcpkit"
PacketError.__module__ = "tcpkit"

#: C result code -> C constant name, for messages and docs.
RESULT_NAMES: dict[int, str] = {
    0: "TCPKIT_OK",
    1: "TCPKIT_WOULD_BLOCK",
    100: "TCPKIT_ERR_NULL",
    101: "TCPKIT_ERR_INVALID_ARGUMENT",
    102: "TCPKIT_ERR_INVALID_HANDLE",
    103: "TCPKIT_ERR_MALFORMED",
    104: "TCPKIT_ERR_CHECKSUM",
    105: "TCPKIT_ERR_NOT_FOR_US",
    106: "TCPKIT_ERR_BUFFER_TOO_SMALL",
    107: "TCPKIT_ERR_INVALID_STATE",
    108: "TCPKIT_ERR_ADDR_IN_USE",
    109: "TCPKIT_ERR_NO_PORTS",
    110: "TCPKIT_ERR_LIMIT",
    111: "TCPKIT_ERR_REFUSED",
    112: "TCPKIT_ERR_RESET",
    113: "TCPKIT_ERR_TIMED_OUT",
    114: "TCPKIT_ERR_CLOSED",
    115: "TCPKIT_ERR_ADDR_NOT_AVAILABLE",
    199: "TCPKIT_ERR_PANIC",
}
