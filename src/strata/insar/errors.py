"""Errors and warnings of the InSAR domain."""

from strata.errors import InputError, StrataError, StrataWarning

__all__ = [
    "InsarError",
    "NetworkError",
    "NetworkGapWarning",
    "ReaderError",
    "StackError",
]


class InsarError(StrataError):
    """Base class of InSAR errors."""


class StackError(InsarError, InputError):
    """An interferogram stack is inconsistent (grids that do not match, bad dates, no data)."""


class ReaderError(InsarError, InputError):
    """An input file or folder cannot be read; the message names the file."""


class NetworkError(InsarError, ValueError):
    """A pair network cannot be built or inverted."""


class NetworkGapWarning(StrataWarning):
    """The interferogram network is disconnected; the message names the gap dates."""
