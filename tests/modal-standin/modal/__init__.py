"""A stand-in for Modal's Python SDK, for tests only (see ../README.md).

It implements exactly the surface theory-conform's resolver uses:
``modal.Function.from_name(app_name, name, *, environment_name=None)`` and
``Function.get_web_url()``, plus ``modal.exception.NotFoundError`` and
``modal.exception.AuthError``. Names map to URLs through the JSON file named
by the environment variable ``THEORY_MODAL_STANDIN``::

    {"auth": "ok",
     "functions": [{"app": "theory", "function": "run",
                    "environment": "main", "url": "wss://127.0.0.1:4443"}]}

- ``environment`` defaults to ``"main"`` in entries and lookups.
- ``"url": null`` stands for a function that is not a web endpoint.
- ``"auth": "missing"`` makes every lookup raise ``AuthError``, as the real
  SDK does when no token is configured.
"""

import json
import os

from . import exception

__all__ = ["Function", "exception"]

_DEFAULT_ENVIRONMENT = "main"


def _table():
    path = os.environ.get("THEORY_MODAL_STANDIN")
    if not path:
        raise exception.AuthError("Token missing (stand-in: THEORY_MODAL_STANDIN is not set)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Function:
    """A deployed function, looked up lazily like the real SDK's."""

    def __init__(self, app_name, name, environment_name):
        self._app_name = app_name
        self._name = name
        self._environment_name = environment_name or _DEFAULT_ENVIRONMENT

    @classmethod
    def from_name(cls, app_name, name, *, environment_name=None):
        return cls(app_name, name, environment_name)

    def get_web_url(self):
        table = _table()
        if table.get("auth") == "missing":
            raise exception.AuthError("Token missing. Could not authenticate client.")
        for entry in table.get("functions", []):
            if (
                entry.get("app") == self._app_name
                and entry.get("function") == self._name
                and entry.get("environment", _DEFAULT_ENVIRONMENT) == self._environment_name
            ):
                return entry.get("url")
        raise exception.NotFoundError(
            "Lookup failed for Function '%s' from the '%s' app in the '%s' environment"
            % (self._name, self._app_name, self._environment_name)
        )
