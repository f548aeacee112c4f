"""schemathesis fuzzes every operation of our own OpenAPI document, in-process on the test
database, signed in as an admin (who may call every route): no server errors, every response
matches its documented status codes, content types, headers and schemas, and schema-valid input
is accepted (schemathesis.toml lists the business rules that refuse some).

`scripts/fuzz` runs the same against a live server with many more examples.
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


def test_every_operation_keeps_its_contract(app, make, auth, runner):
    # A small real catalogue, so generated ids hit events and tiers and not only 404s.
    assert runner.invoke(args=["seed", "--events", "25"]).exit_code == 0
    headers = auth.headers(make.user(role="admin"))
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def keeps_contract(case):
            # Every check, "schema-valid data is accepted" included, except for the operations
            # schemathesis.toml names with the business rule JSON Schema cannot express.
            case.call_and_validate(headers=headers)

        try:
            keeps_contract()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collect, then fail
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    assert not failures, "\n\n".join(failures)
