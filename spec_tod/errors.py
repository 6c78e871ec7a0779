"""The one exception type the CLI turns into a plain message and a non-zero exit."""


class SpecTodError(Exception):
    """A problem the user can fix: the message says what was wrong and what to do next."""
