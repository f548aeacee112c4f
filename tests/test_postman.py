"""The Postman collection stays in sync with its builder and covers every OpenAPI operation."""

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_postman", ROOT / "scripts" / "build_postman.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def walk(items):
    for item in items:
        if "item" in item:
            yield from walk(item["item"])
        else:
            yield item


def shape(path: str) -> str:
    """/api/events/{{eventId}} and /api/events/{eventId} both become /api/events/{}."""
    return re.sub(r"{{?\w+}}?", "{}", path)


def test_committed_collection_is_what_the_builder_writes():
    for path, content in load_builder().render().items():
        assert path.read_text() == content, f"{path.name} is stale: run scripts/build_postman.py"


def test_every_openapi_operation_has_a_request_with_tests(client):
    spec = client.get("/api/openapi.json").get_json()
    collection = json.loads((ROOT / "docs/postman/shop.postman_collection.json").read_text())
    covered = set()
    for item in walk(collection["item"]):
        url = item["request"]["url"]["raw"].replace("{{baseUrl}}", "").split("?")[0]
        covered.add((item["request"]["method"], shape(url)))
        scripts = [e for e in item.get("event", []) if e["listen"] == "test"]
        assert scripts and any("pm.test(" in line for line in scripts[0]["script"]["exec"]), item[
            "name"
        ]
    missing = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
        and (method.upper(), shape(path)) not in covered
    ]
    assert missing == [], f"operations without a Postman request: {missing}"


ENVIRONMENT_VARIABLES = {"baseUrl", "adminEmail", "adminPassword"}


def test_every_folder_sets_each_variable_before_it_uses_it():
    """Folders run alone (`newman run … --folder NAME`): a request may only use a variable that
    the environment provides or an earlier request of the same folder (or its own pre-request
    script) has set, never one left behind by another folder."""
    collection = json.loads((ROOT / "docs/postman/shop.postman_collection.json").read_text())
    for folder in collection["item"]:
        known = set(ENVIRONMENT_VARIABLES)
        for item in walk(folder["item"]):
            scripts = {
                event["listen"]: "\n".join(event["script"]["exec"])
                for event in item.get("event", [])
            }
            set_by = re.compile(r'collectionVariables\.set\("(\w+)"')
            known |= set(set_by.findall(scripts.get("prerequest", "")))
            used = set(re.findall(r"{{(\w+)}}", json.dumps(item["request"]))) - {"$guid"}
            assert used <= known, f"{folder['name']} / {item['name']} uses {used - known}"
            known |= set(set_by.findall(scripts.get("test", "")))
