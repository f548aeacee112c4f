"""Every example on the learner pages runs, so the pages cannot rot.

A small doctest for Markdown: each ```bash block of a page is run, command by command, in one bash
session per page (so `TOKEN=$(...)` carries over to the next block), against a live server on a
seeded database of its own. `http://127.0.0.1:5000` in a command is rewritten to that server's
address. Every command must succeed (or end in `# exits N` and exit N); when the block is
followed directly by an output block, the last command's output must match it:

- ```json   the output is JSON containing what is shown: objects may have more keys than shown,
            "..." matches any value, and a list ending in "..." may have more items;
- ```http   the output of `curl -i`: the status code, the headers shown ("..." in a value
            matches any text), then the JSON body as above;
- ```text   line by line; a line "..." matches any number of lines, "..." within a line matches
            any text, and runs of spaces count as one (psql pads its columns).

A few commands are not run here because something else runs them; see NOT_RUN_HERE.
Every `scripts/test ARGS` a page names must select at least one test (checked below).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from shop import create_app
from shop.database import libpq_url
from shop.extensions import db
from tests.helpers import scratch_database

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    pytest.param(f"docs/weeks/week-{n}.md", marks=getattr(pytest.mark, f"week{n}"), id=f"week-{n}")
    for n in range(1, 6)
] + [pytest.param("docs/README.md", id="learner-readme")]
DOC_ADDRESS = "127.0.0.1:5000"
NOT_RUN_HERE = {
    "scripts/server": "started and probed by .ci/e2e",
    "PORT=5001 scripts/server": "started and probed by .ci/e2e",
    "BASE_URL=http://127.0.0.1:5000 .ci/newman": "run by .ci/e2e against scripts/server",
    "python bench/": "benchmarks print figures and take minutes (README: Benchmarks)",
    "scripts/test": "test_every_exercise_check_command_selects_tests collects what it selects",
}
OUTPUT_LANGUAGES = {"json", "http", "text"}


# -- reading the Markdown --------------------------------------------------------------------


def examples(markdown: str) -> list[tuple[list[str], tuple[str, str] | None]]:
    """(commands, expected output or None) for each bash block."""
    found = []
    pattern = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*\n", re.M | re.S)
    matches = list(pattern.finditer(markdown))
    for index, match in enumerate(matches):
        if match[1] != "bash":
            continue
        expected = None
        following = matches[index + 1] if index + 1 < len(matches) else None
        if (
            following is not None
            and following[1] in OUTPUT_LANGUAGES
            and markdown[match.end() : following.start()].strip() == ""
        ):
            expected = (following[1], following[2])
        found.append((commands(match[2]), expected))
    return found


def commands(script: str) -> list[str]:
    """Logical commands of a block: comments and blank lines dropped, `\\` lines joined."""
    result, current = [], ""
    for line in script.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        result.append(current + line)
        current = ""
    return result


# -- comparing outputs -----------------------------------------------------------------------


def json_matches(expected, actual) -> bool:
    if expected == "...":
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and json_matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        more = bool(expected) and expected[-1] == "..."
        shown = expected[:-1] if more else expected
        if len(actual) < len(shown) or (not more and len(actual) != len(shown)):
            return False
        return all(json_matches(e, a) for e, a in zip(shown, actual, strict=False))
    return expected == actual


def text_matches(expected: list[str], actual: list[str]) -> bool:
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(text_matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    return line_matches(head, actual[0]) and text_matches(rest, actual[1:])


def line_matches(expected: str, actual: str) -> bool:
    """`...` inside a line matches anything; runs of spaces count as one (psql pads columns)."""
    squeeze = lambda line: " ".join(line.split())  # noqa: E731
    pattern = ".*".join(re.escape(part) for part in squeeze(expected).split("..."))
    return re.fullmatch(pattern, squeeze(actual)) is not None


def check_output(language: str, expected: str, output: str) -> str | None:
    """None when `output` matches, else why not."""
    if language == "text":
        if text_matches(expected.splitlines(), output.splitlines()):
            return None
        return "text differs"
    if language == "http":
        head, _, body = output.replace("\r\n", "\n").partition("\n\n")
        want_head, _, want_body = expected.partition("\n\n")
        status_line, *headers = head.splitlines()
        want_status, *want_headers = want_head.splitlines()
        if status_line.split()[1] != want_status.split()[1]:
            return f"status {status_line} instead of {want_status}"
        present = {}
        for line in headers:
            name, _, value = line.partition(":")
            present[name.strip().lower()] = value.strip()
        for line in want_headers:
            name, _, value = line.partition(":")
            got, value = present.get(name.strip().lower()), value.strip()
            if got is None or not line_matches(value, got):
                return f"header {line!r} not in the response"
        if not want_body.strip():
            return None
        expected, output, language = want_body, body, "json"
    try:
        actual = json.loads(output)
    except ValueError:
        return "output is not JSON"
    return None if json_matches(json.loads(expected), actual) else "JSON differs"


# -- running ---------------------------------------------------------------------------------


class Shell:
    """One bash session: commands run one at a time, their exit status and output returned."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.marker = f"__done_{uuid.uuid4().hex}__"

    def run(self, command: str, timeout: float = 120) -> tuple[int, str]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{command}\nprintf '\\n{self.marker} %s\\n' \"$?\"\n".encode())
        self.process.stdin.flush()
        output, deadline = b"", time.monotonic() + timeout
        pattern = re.compile(rb"\n?" + self.marker.encode() + rb" (\d+)\n$")
        while not pattern.search(output):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.process.stdout], [], [], remaining)[0]:
                raise TimeoutError(f"{command!r} did not finish in {timeout} s")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"bash exited while running {command!r}")
            output += chunk
        found = pattern.search(output)
        return int(found[1]), output[: found.start()].decode()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()


@pytest.fixture(scope="module")
def live_server(database_url):
    """The app served over HTTP on a free port, on a migrated and seeded database of its own
    (requests commit for real, as on a learner's machine)."""
    import flask_migrate

    from shop.seed import seed

    with scratch_database(database_url, "docs") as url:
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            flask_migrate.upgrade()
            seed(db.session, events=300)
            db.session.commit()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield {"address": f"127.0.0.1:{server.server_port}", "database_url": libpq_url(url)}
        server.shutdown()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("page", PAGES)
def test_every_example_on_the_page_runs_as_shown(page, live_server):
    markdown = (ROOT / page).read_text()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        DATABASE_URL=live_server["database_url"],
        SHOP_ENV="development",
        FLASK_APP="wsgi",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
    )
    shell = Shell(env)
    ran = 0
    try:
        for block_commands, expected in examples(markdown):
            status, output = 0, ""
            for command in block_commands:
                if any(command.startswith(prefix) for prefix in NOT_RUN_HERE):
                    continue
                command = command.replace(DOC_ADDRESS, live_server["address"])
                exits = re.search(r"#\s*exits (\d+)\s*$", command)
                status, output = shell.run(command)
                ran += 1
                want = int(exits[1]) if exits else 0
                assert status == want, f"{page}: `{command}` exited {status}:\n{output}"
            if expected:
                problem = check_output(expected[0], expected[1], output)
                assert problem is None, (
                    f"{page}: output of `{block_commands[-1]}`: {problem}.\n"
                    f"shown:\n{expected[1]}\ngot:\n{output}"
                )
    finally:
        shell.close()
    assert ran > 0, f"{page} shows no runnable example"


def test_the_runner_compares_json_http_and_text_as_documented():
    assert json_matches({"data": {"id": "..."}}, {"data": {"id": 4, "title": "x"}})
    assert not json_matches({"data": {"id": 5}}, {"data": {"id": 4}})
    assert json_matches([1, "..."], [1, 2, 3]) and not json_matches([1], [1, 2])
    created = "HTTP/1.1 201 CREATED\r\nLocation: /api/orders/7\r\n\r\n{}"
    assert check_output("http", "HTTP/1.1 201\nLocation: /api/orders/...", created) is None
    assert check_output("http", "HTTP/1.1 409", created) is not None
    assert text_matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert not text_matches(["a", "z"], ["a", "b", "z"])
    assert line_matches(" id | title | ...", " id  |   title   | starts_at")
    script = "# note\ncurl -s \\\n  http://x\n\necho hi\n"
    assert commands(script) == ["curl -s    http://x", "echo hi"]


CHECK_COMMANDS = """
import contextlib, io, json, shlex, sys
import pytest
results = {}
for arguments in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        options = ["--collect-only", "-q", "-p", "no:cacheprovider"]
        code = pytest.main([*options, *shlex.split(arguments)])
    results[arguments] = int(code)
print(json.dumps(results))
"""


def test_every_exercise_check_command_selects_tests():
    """Each `scripts/test …` a page names (exercises included) selects at least one test."""
    pages = [ROOT / "docs/README.md", *sorted((ROOT / "docs/weeks").glob("week-*.md"))]
    found = {
        match.strip()
        for page in pages
        for match in re.findall(r"scripts/test([^`\n]*)", page.read_text())
    }
    assert len(found) >= 10
    result = subprocess.run(
        [sys.executable, "-c", CHECK_COMMANDS, json.dumps(sorted(found))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    codes = json.loads(result.stdout.strip().splitlines()[-1])
    assert {arguments: code for arguments, code in codes.items() if code != 0} == {}
