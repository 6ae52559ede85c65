"""The docs as a reader meets them: every link lands on a page and a heading, every path to the code
names a file that exists, and every environment variable the code reads is in docs/configuration.md."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CONFIGURATION = REPO / "docs" / "configuration.md"

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)

# How the code reads a variable: the settings reader (`read.integer("NAME", ...)`) or the environment.
READER_METHODS = "text|integer|optional_integer|number|choice|flag|url|pattern|names|origins|prices"
READER_CALL = re.compile(rf'\.(?:{READER_METHODS})\(\s*"([A-Z][A-Z0-9_]+)"\s*[,)]')
ENVIRON_READ = re.compile(
    r'(?:environ(?:\.get|\.setdefault)?\(|environ\[|getenv\()\s*"([A-Z][A-Z0-9_]+)"\s*[,)\]]'
)
# A WSGI app's `environ` is the request, not the process's variables.
WSGI_KEYS = {"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "CONTENT_TYPE", "CONTENT_LENGTH"}


def without_code(text):
    return CODE_SPAN.sub("", FENCE.sub("", text))


def anchors(page):
    """GitHub's heading ids: lowercase, punctuation but hyphens dropped, spaces to hyphens, repeats -1, -2."""
    seen, ids = {}, set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        ids.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return ids


def broken_links(page):
    broken = []
    for target in LINK.findall(without_code(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    return broken


def variables_the_code_reads():
    sources = [*(REPO / "lib").rglob("*.py"), *(REPO / "local").rglob("*.py"), REPO / "handler.py"]
    names = set()
    for source in sources:
        text = source.read_text(encoding="utf-8")
        names |= set(READER_CALL.findall(text)) | set(ENVIRON_READ.findall(text))
    return names - WSGI_KEYS


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_lands_on_a_file_and_a_heading(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("link", ["gone.md", "api.md#no-such-heading", "#nor-here"])
def test_a_broken_link_is_caught(tmp_path, link):
    # Given a page beside api.md whose link points at a missing page or heading
    (tmp_path / "api.md").write_text("# The API\n\n## Errors\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(f"# Page\n\nSee [there]({link}) and [the errors](api.md#errors).\n", encoding="utf-8")
    # When its links are checked
    broken = broken_links(page)
    # Then the broken one is named, and only it
    assert broken == [link]


def test_repeated_headings_get_numbered_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Cost: `make cost`\n\n## Notes\n\n## Notes\n", encoding="utf-8")
    assert anchors(page) == {"cost-make-cost", "notes", "notes-1"}


def test_every_variable_the_code_reads_is_in_the_configuration_page():
    # Given the variables the code reads, found through both ways it reads them
    read = variables_the_code_reads()
    assert {"RATE_LIMIT_RPM", "ROTATION_KEY_ISSUER", "LOCAL_MODEL_PACE_S"} <= read
    # When the configuration page's table rows are read
    rows = [line for line in CONFIGURATION.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}
    # Then each variable has a row
    assert sorted(read - documented) == []


@pytest.mark.skipif(
    not (REPO / "lib" / "platform").is_dir(),
    reason="the docs describe lib/'s layout by layer, not landed yet",
)
def test_every_path_into_lib_that_the_docs_name_exists():
    named = {
        path for page in PAGES for path in re.findall(r"`(lib/[\w./-]*)`", page.read_text(encoding="utf-8"))
    }
    assert sorted(path for path in named if not (REPO / path).exists()) == []
