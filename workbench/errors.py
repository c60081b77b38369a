"""One exception hierarchy for user errors.

Everything a user can get wrong (an unknown name, a missing or undecodable file, a bad
option value) raises a subclass of :class:`WorkbenchError` whose message is one line that
names the bad value and the fix. The CLI prints that line and exits 2; anything else that
escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error caused by user input."""


class UnknownNameError(WorkbenchError, KeyError):
    """A registry was asked for a name it does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(WorkbenchError):
    """A file or text given by the user cannot be used as it is."""
