"""Every command block in README.md and docs/ runs as written, so the documentation cannot drift.

Each Markdown file is run as a new user would follow it: in a fresh folder laid out like a
checkout (its files linked in, `.venv` pointing at this interpreter's environment), with an empty
register (`./tripwire.db`, TRIPWIRE_DB unset), running its ```bash blocks in order through bash.
Conventions in the Markdown, visible to the reader:

* a command must exit 0, unless its line ends with a comment saying `# exit N...`;
* `# not run in the docs test: REASON` as a block's first line skips the block, and at the end
  of a line skips that line (a server that runs until stopped, a PostgreSQL URL, the quick start
  that sets up the environment this test runs in); the reason is required, the count is capped;
* a command shown in a block of another kind (```console, ```text, a bare fence) is refused,
  so none escapes the run: commands go in ```bash, output in ```text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]
FENCE = re.compile(r"^(?P<fence>```+)(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                   re.S | re.M)
RUN_LANGS = {"bash", "sh", "shell"}
NOT_RUN = re.compile(r"not run in the docs test:\s*(?P<reason>\S.*)")
EXIT = re.compile(r"\bexit (?P<code>\d)(?![\d/])")
LOOKS_LIKE_A_COMMAND = re.compile(r"^\s*(\$ )?(tripwire |\.venv/bin/|bash scripts/|pip install )")
MAX_NOT_RUN = 10
"""Commands the docs test cannot run must stay few."""


@dataclass
class Command:
    doc: Path
    line: int
    text: str
    expect: int


def _comment(line: str) -> str:
    """The trailing `# ...` comment of a shell line (outside quotes), or ''."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[i + 1:]
    return ""


def _commands(doc: Path) -> tuple[list[Command], list[str], list[str]]:
    """(commands to run, places skipped with their reasons, commands outside bash blocks)."""
    text = doc.read_text("utf-8")
    rel = doc.relative_to(REPO)
    out: list[Command] = []
    skipped: list[str] = []
    stray: list[str] = []
    for m in FENCE.finditer(text):
        first = text.count("\n", 0, m.start("body")) + 1
        lang = m.group("lang").strip().split(" ")[0].lower()
        lines = m.group("body").splitlines()
        if lang not in RUN_LANGS:
            stray += [f"{rel}:{first + i}: {ln.strip()}" for i, ln in enumerate(lines)
                      if LOOKS_LIKE_A_COMMAND.match(ln)]
            continue
        head = NOT_RUN.search(_comment(lines[0])) if lines and lines[0].lstrip().startswith(
            "#") else None
        if head:
            skipped.append(f"{rel}:{first}: block: {head.group('reason')}")
            continue
        i = 0
        while i < len(lines):
            start = i
            parts = [lines[i]]
            while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                parts.append(lines[i])
            i += 1
            cmd = "\n".join(parts)
            if not cmd.strip() or cmd.lstrip().startswith("#"):
                continue
            comment = _comment(parts[-1])
            skip = NOT_RUN.search(comment)
            if skip:
                skipped.append(f"{rel}:{first + start}: {skip.group('reason')}")
                continue
            code = EXIT.search(comment)
            out.append(Command(doc, first + start, cmd, int(code.group("code")) if code else 0))
    return out, skipped, stray


def _fresh_checkout(tmp: Path) -> Path:
    """A folder that looks like a fresh checkout after the quick start: the repository's files
    linked in (read-only use), `.venv` pointing at the environment running these tests."""
    work = tmp / "checkout"
    work.mkdir()
    for item in REPO.iterdir():
        if item.name.startswith(".") or item.name in ("tripwire.db", "tripwire-demo"):
            continue
        (work / item.name).symlink_to(item)
    (work / ".venv").symlink_to(Path(sys.prefix))
    return work


def _script(commands: list[Command]) -> str:
    out = ["set -u"]
    for c in commands:
        where = f"{c.doc.relative_to(REPO)}:{c.line}"
        out.append(f"echo '>>> {where}' >&2")
        out.append(c.text)
        out.append(f'rc=$?; if [ "$rc" -ne {c.expect} ]; then echo "{where}: exit $rc, the '
                   f'documentation says {c.expect}" >&2; exit 99; fi')
    return "\n".join(out) + "\n"


def _all() -> dict[Path, tuple[list[Command], list[str], list[str]]]:
    return {d: _commands(d) for d in DOCS if d.is_file()}


def test_commands_are_in_bash_blocks_and_skips_are_few_and_say_why():
    found = _all()
    stray = [s for _, _, st in found.values() for s in st]
    assert not stray, ("commands outside ```bash blocks are never run; put commands in ```bash "
                       "and output in ```text:\n" + "\n".join(stray))
    skipped = [s for _, sk, _ in found.values() for s in sk]
    assert len(skipped) <= MAX_NOT_RUN, "too many documented commands are not run:\n" + \
        "\n".join(skipped)
    assert sum(len(c) for c, _, _ in found.values()) >= 20, "the documented commands were not found"


def test_parser_reads_the_markers(tmp_path: Path):
    doc = tmp_path / "x.md"
    doc.write_text("text\n```bash\n# not run in the docs test: needs a server\nserve\n```\n"
                   "```bash\na --x '#1'   # exit 3: insufficient\nb \\\n  c   # exit 0/1/2/3\n"
                   "d   # not run in the docs test: a URL\n```\n```console\n$ tripwire x\n```\n",
                   encoding="utf-8")
    global REPO
    old, REPO = REPO, tmp_path
    try:
        cmds, skipped, stray = _commands(doc)
    finally:
        REPO = old
    assert [(c.line, c.expect) for c in cmds] == [(7, 3), (8, 0)]
    assert cmds[1].text == "b \\\n  c   # exit 0/1/2/3"
    assert skipped == ["x.md:3: block: needs a server", "x.md:10: a URL"]
    assert stray == ["x.md:13: $ tripwire x"]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[Path, subprocess.Popen[str]]]:
    """Every document's commands, started at once (each in its own fresh folder and register),
    so the documents run side by side."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRIPWIRE_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               COLUMNS="120", NO_COLOR="1")
    procs: dict[Path, subprocess.Popen[str]] = {}
    for doc in DOCS:
        commands = _commands(doc)[0] if doc.is_file() else []
        if not commands:
            continue
        tmp = tmp_path_factory.mktemp(doc.stem)
        work = _fresh_checkout(tmp)
        procs[doc] = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", _script(commands)],
                                      cwd=work, env={**env, "HOME": str(tmp)},
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield procs
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.communicate()


@pytest.mark.parametrize("doc", [d for d in DOCS if d.is_file()],
                         ids=lambda d: str(d.relative_to(REPO)))
def test_documented_commands_run_as_written(
        doc: Path, started: dict[Path, subprocess.Popen[str]]) -> None:
    if doc not in started:
        pytest.skip(f"{doc.relative_to(REPO)} shows no command to run")
    out, err = started[doc].communicate(timeout=900)
    assert started[doc].returncode == 0, err[-4000:] + "\n--- stdout ---\n" + out[-2000:]
