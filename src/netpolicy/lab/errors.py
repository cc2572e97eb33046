"""The one error the lab raises: a message fit to show a person, never a traceback."""

from __future__ import annotations


class LabError(Exception):
    """The lab could not do what was asked; `str(error)` says why and, where known, the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
