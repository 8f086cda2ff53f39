"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis): no input gives a 5xx."""

from __future__ import annotations

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis (a test extra) is not installed")
from hypothesis import HealthCheck, settings  # noqa: E402  (after the importorskip)

pytestmark = pytest.mark.timeout(300)

MAX_EXAMPLES = 40  # per operation: bounded in count (and by the timeout in time)


@pytest.fixture(scope="module")
def api_schema(shared_daemon):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{shared_daemon.url}/openapi.json")


# GET /v1/live is an endless event stream (its parameters are fuzzed with a bounded read in test_live.py).
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/live")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case, shared_daemon) -> None:  # type: ignore[no-untyped-def]
    response = case.call(timeout=60)
    assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        assert "error" in response.json(), "error answers must carry a JSON error body"
    assert httpx.get(f"{shared_daemon.url}/healthz", timeout=10).status_code == 200
