"""Property-based tests of the sidecar against its own OpenAPI document (schemathesis).

Every operation in ``/openapi.json`` is called in-process (ASGI), over the fake
embedder and the in-memory store, with requests schemathesis generates from the
document: valid ones, and invalid ones from its coverage and fuzzing phases.

* With a valid token no response is a 5xx, and every response conforms to the
  document (status code documented, content type, body schema, headers).
* Without a token no ``/v1`` operation answers 2xx: it is 401, whatever the body.

Examples are bounded (``max_examples`` per operation) so the module runs in
about a minute on two cores. Checks left out, and why:

* ``positive_data_acceptance``: the document cannot say everything the server
  checks (text that is only whitespace, ``limit`` above the configured
  ``max_quarantine_page``), so some schema-valid requests get a 422 that names
  the problem. That is by design, not a conformance failure.
* ``allow_header_conformance``: Starlette answers a 405 on
  ``/v1/quarantine/{chunk_id}`` with ``Allow: GET`` only, although ``DELETE`` is
  served on the same path (one route object per method); see docs/reliability.md.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from ragguard.testing import make_guard
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_helpers import AUTH, TOKEN, detectors, server_settings

from ragguard_server import create_app

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# One app for the module: state accumulates across operations (ingests, quarantined
# chunks), so later operations also meet a non-empty store.
app = create_app(server_settings(), guard=make_guard(detectors=detectors()))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
data_routes = schema.include(path_regex=r"^/v1/")


def _ready() -> None:
    # /readyz answers 503 (documented) until warm-up is done; warm-up starts with the
    # lifespan, which schemathesis runs on its first request to the app.
    app.state.ragguard.wait_warm(10)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_authenticated_requests_never_5xx_and_conform(case: schemathesis.Case) -> None:
    if case.path == "/readyz":
        case.call()  # starts the lifespan if nothing has yet
        _ready()
    response = case.call_and_validate(headers=AUTH, checks=CONFORMANCE)
    assert TOKEN not in response.text


@data_routes.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_without_a_token_no_data_route_answers_2xx(case: schemathesis.Case) -> None:
    # Generated headers may include an Authorization header of their own; drop it.
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
    response = case.call()
    assert not 200 <= response.status_code < 300, (case.method, case.formatted_path, response.status_code)
    assert response.status_code == 401, (case.method, case.formatted_path, response.status_code, response.text)
    assert response.headers["www-authenticate"][0].startswith("Bearer")
