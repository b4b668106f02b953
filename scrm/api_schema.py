"""The errors every API operation may answer, added to the OpenAPI schema once (a drf-spectacular
post-processing hook) instead of on each view: API.md's error shape with the statuses it lists."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "Each bad field (a path like lines[0].amount) and why.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

DESCRIPTIONS = {
    "400": "Bad input: the fields say which and why.",
    "401": "No key, or the key is unknown or revoked.",
    "403": "The key or the user may not do this (another store, or not an integration).",
    "404": "No such member, order, voucher, reward or page.",
    "409": "A conflict: already redeemed, insufficient points, idempotency mismatch.",
    "413": "The request body is too large.",
    "429": "Rate limited: retry after the seconds in Retry-After.",
}


def _statuses(path: str, method: str, operation: dict) -> list[str]:
    codes = ["400", "401", "403", "429"]  # any request: NUL bytes or a bad query are a 400
    paged = any(p.get("name") == "page" for p in operation.get("parameters", []))
    if "{" in path or paged:  # a page past the last one is a 404 too
        codes.append("404")
    if method in ("post", "put", "patch"):
        codes += ["404", "409", "413"]  # a body may name an unknown member, order or reward
    return list(dict.fromkeys(codes))


def error_responses(result: dict, generator: Any, request: Any, public: bool) -> dict:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _statuses(path, method, operation):
                response: dict[str, Any] = {
                    "description": DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": ref}},
                }
                if code == "429":
                    response["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
                    }
                responses.setdefault(code, response)
            for code, response in responses.items():  # an error a view declares itself
                if str(code).isdigit() and int(code) >= 400:
                    response.setdefault("content", {"application/json": {"schema": ref}})
    return result
