"""The services are plain domain code: the HTTP layer's words (routes, headers, status codes,
camelCase wire names) never appear in their strings. Docstrings may mention them."""

import ast
import re

from tests.conftest import ROOT

HTTP_WORDS = re.compile(
    r"/api/|Retry-After|X-Cart-Token|WWW-Authenticate|\b(GET|POST|PUT|DELETE) /"
)
CAMEL_KEY = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")


def _strings_and_keys(tree: ast.AST):
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield "string", node.value
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield "key", key.value
        elif isinstance(node, ast.keyword) and node.arg:
            yield "key", node.arg


def test_services_name_no_routes_headers_or_wire_keys():
    found = []
    for path in sorted((ROOT / "shop" / "services").glob("*.py")):
        for kind, text in _strings_and_keys(ast.parse(path.read_text())):
            if kind == "string" and HTTP_WORDS.search(text):
                found.append(f"{path.name}: {text!r}")
            if kind == "key" and CAMEL_KEY.match(text):
                found.append(f"{path.name}: key {text!r}")
    assert found == []


def test_every_sort_the_api_accepts_is_one_the_catalogue_knows():
    from shop.catalog.schemas import SORT_PARAMETER
    from shop.services.catalog import SORTS

    assert sorted(SORT_PARAMETER.values()) == sorted(SORTS)
