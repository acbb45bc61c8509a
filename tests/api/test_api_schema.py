"""Schemathesis against /openapi.json: generated requests to every operation (signed in as an admin,
and as a patient) never get a server error, nor a response outside the documented statuses, media
types and schemas."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]
EXAMPLES = 10


def failures(app: Any, headers: dict[str, str]) -> dict[str, str]:
    """Each operation whose generated requests found a failing check, with the first report."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found: dict[str, str] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path.endswith("/auth/signout"):  # it would end the session the run signs in with
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.headers = {**(case.headers or {}), **headers}  # signed in, whatever was generated
            case.call_and_validate(checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as e:  # schemathesis' FailureGroup, with its report
            found[op.label] = str(e)[:3000]
    return found


@pytest.fixture(scope="module")
def tokens(as_: Any) -> dict[str, dict[str, str]]:
    """Signed in before fuzzing: generated wrong passwords soon rate-limit the test client's address."""
    return {u: as_(u) for u in ("ada", "pat")}


@pytest.mark.slow
@pytest.mark.parametrize("user", ["ada", "pat"])
def test_every_operation_answers_within_its_schema(client: Any, tokens: Any, user: str) -> None:
    bad = failures(client.app, tokens[user])
    assert not bad, "\n\n".join(f"{k}\n{v}" for k, v in bad.items())
