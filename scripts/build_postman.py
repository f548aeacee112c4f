"""Build the Postman collection (v2.1) and its environments in docs/postman/.

Three sources, each kept where it is easiest to read and check:
- scripts/postman/scenarios.py, a table: each request's operation (by operationId), parameters,
  body, headers, expected status, the script functions to run and the variables it keeps;
- the OpenAPI document (the app's /api/openapi.json, asked in process): each request's method
  and path, so neither is typed by hand;
- scripts/postman/*.js: the pre-request and test scripts, as top-level functions, linted by
  ESLint (.ci/eslint). A request's script is its calls followed by the functions they reach.

tests/test_postman.py fails when the committed JSON differs from what this script writes, or when
an operation of the document has no request. Run: python scripts/build_postman.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]  # `shop`, and `postman.scenarios` beside us

from postman.scenarios import DOCUMENTATION_ROUTES, FOLDERS, Folder, Step  # noqa: E402

SCRIPTS = ROOT / "scripts" / "postman"
OUT = ROOT / "docs" / "postman"
COLLECTION = OUT / "shop.postman_collection.json"
ENVIRONMENT = OUT / "local.postman_environment.json"
RENDER_ENVIRONMENT = OUT / "render.postman_environment.json"
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# A top-level function of a .js file, with the `//` comment lines right above it.
JS_FUNCTION = re.compile(r"^((?://[^\n]*\n)*)function (\w+)\(.*?^}$", re.MULTILINE | re.DOTALL)
SETS_VARIABLE = re.compile(r'(?:collectionVariables\.set|saveFromBody)\("(\w+)"')


# -- the sources -----------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The app's /api/openapi.json, built in process: no server, no database."""
    from shop import create_app

    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg:///unused", "LOG_LEVEL": "WARNING"},
    )
    document: dict[str, Any] = app.test_client().get("/api/openapi.json").get_json()
    return document


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """operationId: {method, path, summary, query parameters, body fields} for every operation,
    and the documentation routes."""
    found = {
        operation_id: {
            "method": method,
            "path": path,
            "summary": "",
            "query": set(),
            "body_fields": {},
        }
        for operation_id, (method, path) in DOCUMENTATION_ROUTES.items()
    }
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            if method in HTTP_METHODS:
                found[operation["operationId"]] = {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "query": {
                        parameter["name"]
                        for parameter in operation.get("parameters", [])
                        if parameter.get("in") == "query"
                    },
                    "body_fields": request_body_fields(document, operation),
                }
    return found


def request_body_fields(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """The fields of an operation's JSON request body: name: schema."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    fields: dict[str, Any] = schema.get("properties", {})
    return fields


def js_functions() -> dict[str, str]:
    """Every top-level function in scripts/postman/*.js: name: its source text."""
    functions: dict[str, str] = {}
    for path in sorted(SCRIPTS.glob("*.js")):
        for match in JS_FUNCTION.finditer(path.read_text()):
            name = match.group(2)
            if name in functions:
                raise ValueError(
                    f"{path.name}: function {name} is defined twice in scripts/postman"
                )
            functions[name] = match.group(0)
    return functions


# -- scripts ---------------------------------------------------------------------------------


def js_call(name: str, *arguments: Any) -> str:
    return f"{name}({', '.join(json.dumps(argument) for argument in arguments)});"


def response_checks(step: Step) -> list[str]:
    """The status check, the problem check for an error, the step's tests, then what it keeps."""
    calls = [js_call("expectStatus", step.status)]
    if step.status >= 400:
        calls.append(js_call("expectProblem", *([step.code] if step.code else [])))
    calls += [js_call(name) for name in step.tests]
    calls += [js_call("saveFromBody", variable, path) for variable, path in step.saves.items()]
    return calls


def script(calls: list[str], functions: dict[str, str]) -> list[str]:
    """The calls, then the definition of every function they reach (Postman runs each request's
    script on its own, so it carries its functions)."""
    needed: list[str] = []  # in the order they are first called
    text = "\n".join(calls)
    while text:  # the functions just added may call others in turn
        called = sorted(
            (found.start(), name)
            for name in functions
            if name not in needed and (found := re.search(rf"\b{name}\(", text))
        )
        added = [name for _, name in called]
        needed += added
        text = "\n".join(functions[name] for name in added)
    missing = {call.split("(")[0] for call in calls} - set(needed)
    if missing:
        raise KeyError(f"no function {sorted(missing)} in scripts/postman/*.js")
    lines = [*calls, "", "// The functions called above, from scripts/postman/*.js:"]
    for name in needed:
        lines += ["", *functions[name].splitlines()]
    return lines


def event(listen: str, lines: list[str]) -> dict[str, Any]:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": lines}}


# -- requests --------------------------------------------------------------------------------


def url(operation: dict[str, Any], step: Step) -> dict[str, Any]:
    """The operation's path with the step's path parameters filled in, and its query."""
    path = operation["path"]
    names = re.findall(r"{(\w+)}", path)
    if set(names) != set(step.params):
        raise ValueError(
            f"{step.name}: path {path} needs parameters {names}, got {list(step.params)}"
        )
    filled = re.sub(r"{(\w+)}", lambda match: str(step.params[match.group(1)]), path)
    result: dict[str, Any] = {
        "raw": "{{baseUrl}}" + filled,
        "host": ["{{baseUrl}}"],
        "path": [part for part in filled.split("/") if part],
    }
    unknown = set(step.query) - operation["query"]
    if unknown:
        raise ValueError(f"{step.name}: {path} has no query parameter {sorted(unknown)}")
    if step.query:
        result["query"] = [{"key": key, "value": str(value)} for key, value in step.query.items()]
        result["raw"] += "?" + "&".join(f"{key}={value}" for key, value in step.query.items())
    return result


def raw_body(step: Step, fields: dict[str, Any]) -> str:
    """The step's body as JSON text. A "{{variable}}" for a field the document does not type as
    a string goes in unquoted, {"ticketTypeId": {{ticketTypeId}}}: Postman pastes the number
    (or the JSON) the variable holds."""
    text = json.dumps(step.body, indent=2)
    for key, value in (step.body or {}).items():
        if key not in fields:
            raise ValueError(f"{step.name}: the request body has no field {key!r}")
        types = fields[key].get("type")
        is_string = "string" in (types if isinstance(types, list) else [types])
        if isinstance(value, str) and re.fullmatch(r"{{\w+}}", value) and not is_string:
            text = text.replace(f'"{key}": "{value}"', f'"{key}": {value}')
    return text


def request_item(
    step: Step, operation: dict[str, Any], functions: dict[str, str]
) -> dict[str, Any]:
    """One request of the collection, with its scripts."""
    headers = [{"key": key, "value": value} for key, value in step.headers.items()]
    request: dict[str, Any] = {
        "method": operation["method"],
        "header": headers,
        "url": url(operation, step),
        "description": step.description or operation["summary"],
    }
    if step.body is not None:
        headers.append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": raw_body(step, operation["body_fields"]),
            "options": {"raw": {"language": "json"}},
        }
    events = [event("test", script(response_checks(step), functions))]
    if step.prerequest:
        calls = [js_call(name) for name in step.prerequest]
        events.insert(0, event("prerequest", script(calls, functions)))
    return {"name": step.name, "event": events, "request": request}


def folder_item(
    folder: Folder, known: dict[str, dict[str, Any]], functions: dict[str, str]
) -> dict[str, Any]:
    items = []
    for step in folder.steps:
        if step.operation not in known:
            raise KeyError(f"{folder.name} / {step.name}: no operation {step.operation!r}")
        items.append(request_item(step, known[step.operation], functions))
    return {"name": folder.name, "item": items, "description": folder.description}


def variables_set(folders: list[dict[str, Any]]) -> list[str]:
    """The collection variables the scripts set, in the order they are first set."""
    names: dict[str, None] = {}
    for folder in folders:
        for item in folder["item"]:
            for listened in item["event"]:
                for name in SETS_VARIABLE.findall("\n".join(listened["script"]["exec"])):
                    names.setdefault(name)
    return list(names)


def collection(document: dict[str, Any]) -> dict[str, Any]:
    known, functions = operations(document), js_functions()
    folders = [folder_item(folder, known, functions) for folder in FOLDERS]
    return {
        "info": {
            "name": "shop",
            "description": "The shop API, one folder per course week. Set `baseUrl` in the "
            "environment (local: http://127.0.0.1:5000). Each folder runs alone (its first "
            "requests, named Setup, create or find what it needs) or in order with the others. "
            "Generated by scripts/build_postman.py from scripts/postman/.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": folders,
        "variable": [{"key": name, "value": ""} for name in variables_set(folders)],
    }


# -- environments ----------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    return {
        "name": "shop local",
        "values": [
            {"key": "baseUrl", "value": "http://127.0.0.1:5000", "enabled": True},
            # The demo admin `flask seed` creates (README); on Render use your own admin.
            {"key": "adminEmail", "value": "admin@example.com", "enabled": True},
            {"key": "adminPassword", "value": "Admin-Pass-2026", "enabled": True},
        ],
        "_postman_variable_scope": "environment",
    }


def render_environment() -> dict[str, Any]:
    """The deployed service: replace the host with your Render service's, and the admin with
    the one you created there (`flask create-admin` in the Render shell)."""
    return {
        "name": "shop on Render",
        "values": [
            {"key": "baseUrl", "value": "https://YOUR-SERVICE.onrender.com", "enabled": True},
            {"key": "adminEmail", "value": "you@example.com", "enabled": True},
            {"key": "adminPassword", "value": "", "enabled": True, "type": "secret"},
        ],
        "_postman_variable_scope": "environment",
    }


def render(document: dict[str, Any] | None = None) -> dict[Path, str]:
    """Each file's content; `document` defaults to the app's OpenAPI document."""
    return {
        COLLECTION: json.dumps(
            collection(document or openapi_document()), indent=2, ensure_ascii=False
        )
        + "\n",
        ENVIRONMENT: json.dumps(environment(), indent=2) + "\n",
        RENDER_ENVIRONMENT: json.dumps(render_environment(), indent=2) + "\n",
    }


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for path, content in render().items():
        path.write_text(content)
        print(f"wrote {path.relative_to(ROOT)}")
