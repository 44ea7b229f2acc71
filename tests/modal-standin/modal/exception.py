"""The two exception classes of ``modal.exception`` the resolver handles."""


class Error(Exception):
    """Base class, as in the real SDK."""


class NotFoundError(Error):
    """No such app, function or environment."""


class AuthError(Error):
    """No (valid) credentials."""
