"""The Postman collection stays in sync with its sources and exercises every OpenAPI operation.

Its sources: the scenario table (scripts/postman/scenarios.py), the OpenAPI document (methods and
paths) and the script functions (scripts/postman/*.js), put together by scripts/build_postman.py.
"""

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = ROOT / "docs/postman/shop.postman_collection.json"


def load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_postman", ROOT / "scripts" / "build_postman.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = load_builder()
scenarios = importlib.import_module("postman.scenarios")  # importable once the builder is loaded


def walk(items):
    for item in items:
        if "item" in item:
            yield from walk(item["item"])
        else:
            yield item


def every_step():
    return [step for folder in scenarios.FOLDERS for step in folder.steps]


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").get_json()


def test_committed_collection_is_what_the_builder_writes(document):
    for path, content in builder.render(document).items():
        assert path.read_text() == content, f"{path.name} is stale: run scripts/build_postman.py"


def test_every_openapi_operation_is_exercised_or_listed_as_not(document):
    in_document = {
        operation["operationId"]
        for path_item in document["paths"].values()
        for method, operation in path_item.items()
        if method in builder.HTTP_METHODS
    }
    exercised = {step.operation for step in every_step()}
    missing = in_document - exercised - set(scenarios.NOT_EXERCISED)
    assert missing == set(), f"operations without a Postman request: {sorted(missing)}"
    stale = set(scenarios.NOT_EXERCISED) - (in_document - exercised)
    assert stale == set(), f"NOT_EXERCISED names operations that are gone or exercised: {stale}"


def test_documentation_routes_answer_and_are_not_in_the_document(client, document):
    for method, path in scenarios.DOCUMENTATION_ROUTES.values():
        assert path not in document["paths"], f"{path} is documented: use its operationId"
        assert client.open(path, method=method).status_code == 200, path


def test_a_step_naming_an_unknown_operation_is_refused(document):
    folder = scenarios.Folder("F", "", [scenarios.Step("Typo", "listEvent", 200)])
    with pytest.raises(KeyError, match="listEvent"):
        builder.folder_item(folder, builder.operations(document), builder.js_functions())


def test_a_step_must_fill_every_path_parameter_of_its_operation(document):
    step = scenarios.Step("No id", "getEvent", 200)
    operation = builder.operations(document)["getEvent"]
    with pytest.raises(ValueError, match="eventId"):
        builder.request_item(step, operation, builder.js_functions())


def test_a_body_field_the_document_does_not_have_is_refused(document):
    step = scenarios.Step("Typo", "addCartItem", 201, body={"ticketTypId": 1, "quantity": 1})
    operation = builder.operations(document)["addCartItem"]
    with pytest.raises(ValueError, match="ticketTypId"):
        builder.request_item(step, operation, builder.js_functions())


def test_a_query_parameter_the_operation_does_not_have_is_refused(document):
    step = scenarios.Step("Typo", "listEvents", 200, query={"page_size": 5})
    operation = builder.operations(document)["listEvents"]
    with pytest.raises(ValueError, match="page_size"):
        builder.request_item(step, operation, builder.js_functions())


def test_ids_and_amounts_go_into_bodies_unquoted_and_strings_quoted(document):
    step = scenarios.Step(
        "Buy", "addCartItem", 201, body={"ticketTypeId": "{{ticketTypeId}}", "quantity": 1}
    )
    functions = builder.js_functions()
    raw = builder.request_item(step, builder.operations(document)["addCartItem"], functions)
    assert '"ticketTypeId": {{ticketTypeId}}' in raw["request"]["body"]["raw"]
    step = scenarios.Step("Log in", "logIn", 200, body={"email": "{{email}}", "password": "x"})
    raw = builder.request_item(step, builder.operations(document)["logIn"], functions)
    assert '"email": "{{email}}"' in raw["request"]["body"]["raw"]


def test_a_step_calling_an_undefined_script_function_is_refused(document):
    step = scenarios.Step("Typo", "getHealth", 200, tests=("expectHealty",))
    operation = builder.operations(document)["getHealth"]
    with pytest.raises(KeyError, match="expectHealty"):
        builder.request_item(step, operation, builder.js_functions())


def test_every_request_has_tests_and_every_script_function_is_used():
    collection = json.loads(COLLECTION.read_text())
    defined = set()
    for item in walk(collection["item"]):
        scripts = {e["listen"]: "\n".join(e["script"]["exec"]) for e in item["event"]}
        assert "pm.test(" in scripts.get("test", ""), item["name"]
        for text in scripts.values():
            defined |= set(re.findall(r"^function (\w+)\(", text, re.MULTILINE))
    unused = set(builder.js_functions()) - defined
    assert unused == set(), f"functions in scripts/postman/*.js no request calls: {unused}"


ENVIRONMENT_VARIABLES = {"baseUrl", "adminEmail", "adminPassword"}


def test_every_folder_sets_each_variable_before_it_uses_it():
    """Folders run alone (`newman run … --folder NAME`): a request may only use a variable that
    the environment provides or an earlier request of the same folder (or its own pre-request
    script) has set, never one left behind by another folder."""
    collection = json.loads(COLLECTION.read_text())
    for folder in collection["item"]:
        known = set(ENVIRONMENT_VARIABLES)
        for item in walk(folder["item"]):
            scripts = {
                event["listen"]: "\n".join(event["script"]["exec"])
                for event in item.get("event", [])
            }
            known |= set(builder.SETS_VARIABLE.findall(scripts.get("prerequest", "")))
            used = set(re.findall(r"{{(\w+)}}", json.dumps(item["request"]))) - {"$guid"}
            assert used <= known, f"{folder['name']} / {item['name']} uses {used - known}"
            known |= set(builder.SETS_VARIABLE.findall(scripts.get("test", "")))


@pytest.mark.skipif(shutil.which("npm") is None, reason="Node.js (npm) is not installed")
def test_postman_scripts_pass_eslint():
    """.ci/newman lints them in CI too; this catches a slip before the collection is run."""
    result = subprocess.run(
        ["bash", ".ci/eslint"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
