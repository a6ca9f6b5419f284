"""The error type for bad input data: one line naming the file and what to fix."""


class DataError(ValueError):
    """Bad or unusable input data. The message is one line for the user."""
