"""The base of every error foreman reports to a user as a message rather than a traceback."""


class ForemanError(Exception):
    """Bad input or a broken artefact: the message says what and where."""
