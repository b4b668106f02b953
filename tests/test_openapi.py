"""The OpenAPI schema says what the API does (API.md): lists are pages, /tiers/ is the ladder as an
array, every operation documents its errors in the error shape. Schemathesis checks the answers
against it (tests/test_api_schemathesis.py); this pins the shapes a reader relies on."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client


@pytest.fixture
def schema(db) -> dict:
    response = Client().get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def _ok(schema: dict, path: str, method: str = "get") -> dict:
    body = schema["paths"][path][method]["responses"]
    ok = body.get("200") or body["201"]
    ref = ok["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]] if "$ref" in ref else ref


@pytest.mark.parametrize(
    "path",
    ["/api/v1/members/", "/api/v1/members/{code}/points/", "/api/v1/members/{code}/vouchers/"],
)
def test_lists_are_documented_as_pages(schema, path):
    page = _ok(schema, path)
    assert page["type"] == "object"
    assert set(page["required"]) >= {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
    params = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
    assert "page" in params


def test_tiers_are_an_array_of_tiers(schema):
    tiers = _ok(schema, "/api/v1/tiers/")
    assert tiers["type"] == "array"
    tier = schema["components"]["schemas"]["TierOut"]
    assert {"code", "name", "thresholds", "benefits"} <= set(tier["properties"])


def test_the_member_card_and_order_result_are_described(schema):
    card = _ok(schema, "/api/v1/members/{code}/")
    assert {"tier", "points_balance", "next_tier", "vouchers"} <= set(card["properties"])
    result = _ok(schema, "/api/v1/orders/", "post")
    assert set(result["properties"]) == {"id", "points_earned", "member", "events"}


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "patch"):
                assert {"409", "413"} <= codes, (method, path)
            for code in codes - {"200", "201", "204"}:  # 204: no body at all
                ref = operation["responses"][code]["content"]["application/json"]["schema"]
                assert ref == {"$ref": "#/components/schemas/Error"}


def test_request_bodies_state_their_rules(schema):
    enrol = schema["components"]["schemas"]["MemberEnrolInput"]["properties"]
    assert enrol["phone"]["pattern"].startswith("^(\\+86 ?)?1[3-9]")
    assert enrol["consent"]["additionalProperties"] is False
    order = schema["components"]["schemas"]["OrderInput"]["properties"]
    assert order["lines"]["minItems"] == 1 and order["total"]["pattern"]
    batch = schema["components"]["schemas"]["OrderBatch"]["properties"]["orders"]
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)
