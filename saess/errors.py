"""Errors meant for users: the CLI prints their message on one line and exits with code 2."""


class SaessError(Exception):
    """A problem with the user's input or environment, with a message that names it."""


class InputError(SaessError):
    """Bad input data: a file, a line, a field."""


class ModelError(SaessError):
    """A model that cannot be found, loaded or used as asked."""
