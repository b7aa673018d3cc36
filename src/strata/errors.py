"""Root of Strata's error hierarchy.

Each domain (catalog, insar, processing, api) defines its own ``errors.py`` whose classes derive
from :class:`StrataError` (and from a builtin where it fits, e.g. ``class NetworkError(StrataError,
ValueError)``).  The HTTP status mapping lives in one place, ``strata.api.errors``; the CLI turns
any :class:`StrataError` into one readable line and exit code 2.
"""

__all__ = ["InputError", "NotFoundError", "StrataError", "StrataWarning"]


class StrataError(Exception):
    """Base class of every error Strata raises on purpose."""


class InputError(StrataError, ValueError):
    """User input (a file, a query, a parameter) is malformed; the message says what is wrong."""


class NotFoundError(StrataError, LookupError):
    """A named resource (item, collection, job, file) does not exist."""


class StrataWarning(UserWarning):
    """Base class of Strata's warnings (turned into errors in the test suite)."""
