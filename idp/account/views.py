"""The console's blueprint with every route registered on it."""

from __future__ import annotations

from idp.account import console, lost_phone, methods, rights  # noqa: F401 - register routes
from idp.account.web import bp
from idp.sharing import console as sharing  # noqa: F401 - registers its console pages

__all__ = ["bp"]
