"""Schemathesis over the live OpenAPI schema: generated requests (valid and invalid) to every
operation of the API, each answered without a 5xx, with a status the schema documents, in the
content type it documents and in the shape it documents.

Bounded: a fixed number of examples per operation (``EXAMPLES``), derandomised so a CI failure
reproduces. Path parameters are drawn half the time from the real members, vouchers and orders the
fixture made, so the generated requests reach the code behind a 404 too.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import apikey_create
from members.models import VoucherTemplate
from members.services import voucher_issue
from tests.factories import MemberFactory
from tests.members.helpers import buy

EXAMPLES = int(os.environ.get("SCRM_SCHEMATHESIS_EXAMPLES", "60"))
KNOWN: dict[str, list] = {"code": [], "order_id": []}

# Rules a JSON schema cannot state: they join two fields or depend on the data, or (NUL) hold for
# every text of the API (PostgreSQL cannot store U+0000; the schema's description says so). A
# schema-valid request refused for anything else fails ``valid_requests_accepted``.
NOT_IN_SCHEMA = [  # (field, how the message starts); "" for any field
    ("", "This field contains a character that is not allowed."),  # NUL
    ("total", "The total must equal the sum of the line amounts."),
    ("reason", "Give a reward code or a reason."),
    ("placed_at", "Give a time from "),  # from 2000 up to now
    ("placed_at", "Datetime value out of range."),  # year 1 at +07:13 is before year 1 in UTC
    ("starts_at", "Datetime value out of range."),
    ("store", "Unknown store."),
    ("reward", "Unknown reward."),
    ("member", "Enter an 11-digit mobile number"),  # neither a known code nor a phone
    ("amount", "Must equal the sum of the refunded lines."),
    ("amount", "Must be more than 0."),
    ("birthday", "Enter a birthday from 1900 on."),  # a date range: not in JSON Schema
    ("birthday", "A birthday can't be in the future."),
    ("name", "Enter a name."),  # a name cannot be emptied; blank is allowed at enrolment
    ("lines[", "More than was "),  # bought / paid for this line and not yet refunded
    ("lines[", "This SKU is not in the order."),
    # Campaigns: what names data (a segment, codes, a voucher template), the texts' own rules
    # (variables, the SMS opt-out text and length, an email's subject), the schedule's order.
    ("audience", ""),
    ("offer", "No voucher template has this code."),
    ("offer", "This voucher template is switched off."),
    ("message", ""),
    ("subject", "An email needs a subject."),
    ("repeat_until", ""),
]


def _explained(field: str, message: str) -> bool:
    return any(field.startswith(f) and message.startswith(m) for f, m in NOT_IN_SCHEMA)


@schemathesis.check
def valid_requests_accepted(ctx, response, case):
    """schemathesis' positive_data_acceptance, knowing NOT_IN_SCHEMA."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    fields = response.json()["error"]["fields"]
    unexplained = {f: [m for m in msgs if not _explained(f, m)] for f, msgs in fields.items()}
    unexplained = {f: m for f, m in unexplained.items() if m}
    if unexplained or not fields:
        raise AssertionError(f"A request valid by the schema was refused: {response.text}")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    valid_requests_accepted,
]


@pytest.fixture(autouse=True)
def _data(db, store_sh, store_bj):
    members = [MemberFactory(store=store_sh), MemberFactory(store=store_bj)]
    order = buy(members[0], 300)
    template = VoucherTemplate.objects.filter(is_active=True).first()
    codes = [m.code for m in members]
    if template is not None:
        codes.append(voucher_issue(template=template, member=members[0], source="test").code)
    KNOWN["code"] = codes
    KNOWN["order_id"] = [order["id"]]
    _key, plain = apikey_create(name="schemathesis", store=None, actor=None)
    os.environ["SCRM_SCHEMATHESIS_KEY"] = plain
    assert order["member"]["annual_spend"] == "300.00"
    # As Django's test client does: the WSGI app must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded once at collection (the schema view needs no database): one test per operation.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    """Every other draw names a real member, voucher or order instead of a random one."""
    if not path_parameters:
        return path_parameters
    for name, known in KNOWN.items():
        if name in path_parameters and known and hash(str(path_parameters[name])) % 2 == 0:
            path_parameters[name] = known[hash(str(path_parameters[name])) % len(known)]
    return path_parameters


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented_and_never_5xx(case):
    case.call_and_validate(
        headers={
            "Authorization": f"Bearer {os.environ['SCRM_SCHEMATHESIS_KEY']}",
            "Accept-Language": "en",  # the messages NOT_IN_SCHEMA names
        },
        checks=CHECKS,
    )
