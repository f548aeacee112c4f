"""Every relative link in every tracked Markdown file leads somewhere inside the repository, so
the documentation works in any clone (and links nothing outside it)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCED_CODE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and [text](target "title"); images too.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def tracked_markdown() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed]


def relative_links(markdown: str) -> list[str]:
    prose = INLINE_CODE.sub("", FENCED_CODE.sub("", markdown))
    return [target for target in LINK.findall(prose) if not EXTERNAL.match(target)]


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", FENCED_CODE.sub("", markdown), re.M):
        text = re.sub(r"[`*_\[\]()]", "", heading).strip().lower()
        anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text)))
    return anchors


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in relative_links(path.read_text()):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}: {target}"
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{where} points outside the repository")
        elif not resolved.exists():
            broken.append(f"{where} does not exist")
        elif (
            anchor
            and resolved.suffix == ".md"
            and anchor not in heading_anchors(resolved.read_text())
        ):
            broken.append(f"{where} names no heading of {resolved.name}")
    return broken


def test_the_link_checker_finds_broken_links(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Errors and codes\n")
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](docs/b.md) [anchor](docs/b.md#errors-and-codes) [web](https://example.com)\n"
        "[missing](docs/c.md) [outside](../shared/SPEC.md) [bad anchor](docs/b.md#nope)\n"
        "`[code](not/checked.md)`\n```\n[fenced](not/checked.md)\n```\n"
    )
    assert broken_links(page) == [
        "a.md: docs/c.md does not exist",
        "a.md: ../shared/SPEC.md points outside the repository",
        "a.md: docs/b.md#nope names no heading of b.md",
    ]


def test_every_relative_link_in_tracked_markdown_resolves():
    pages = tracked_markdown()
    assert ROOT / "README.md" in pages
    broken = [problem for page in pages for problem in broken_links(page)]
    assert broken == []


def test_the_api_guide_names_every_problem_code():
    from shop.problems import PROBLEM_CODES

    guide = (ROOT / "docs" / "api.md").read_text()
    assert [code for code in PROBLEM_CODES if f"`{code}`" not in guide] == []
