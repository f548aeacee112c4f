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
