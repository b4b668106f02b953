"""One application error, and the error shape the API and pages share:
``{"error": {"code", "message", "fields"}}``. The DRF handler lives in ``scrm.api_exceptions``."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A failure users should read: a stable ``code``, a translated ``message`` and extra data."""

    status_code = 400

    def __init__(
        self,
        message: str,
        code: str = "invalid",
        extra: dict[str, Any] | None = None,
        status_code: int | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}
        self.fields = fields or {}
        if status_code is not None:
            self.status_code = status_code


def error_body(code: str, message: str, fields: dict | None = None, **extra: Any) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}, **extra}}


def form_errors_add(form: Any, exc: ApplicationError) -> None:
    """A service's refusal shown on a page's form: next to the field it names, else at the top."""
    for name, errors in (exc.fields or {"": [exc.message]}).items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)
