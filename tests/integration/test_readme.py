"""Every code block of the README works as written.

The ```python blocks run in order, in one namespace, in an empty folder, on the embedded
model (what a reader pasting them into a notebook does). A block that needs what the tests
do not have (a model server, a GPU) starts with the line ``# not run by the README test:
<reason>``; there may be at most two such blocks. The ```bash blocks are checked for what
can be checked without running them for minutes: every ``eagle-kit`` subcommand exists
(``--help`` works) and its options as written parse, every ``make`` target is in the Makefile, every papermill notebook
exists and takes the parameters given.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from eagle_kit.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
NOT_RUN = "# not run by the README test:"


def blocks(language: str) -> list[tuple[int, str]]:
    """``(first line number, code)`` of every fenced block of ``language``."""
    text = README.read_text(encoding="utf-8")
    out = []
    for match in FENCE.finditer(text):
        if match.group(1) == language:
            line = text.count("\n", 0, match.start(2)) + 1
            out.append((line, match.group(2)))
    return out


def test_the_readme_has_the_blocks_this_test_reads() -> None:
    assert len(blocks("python")) >= 3 and len(blocks("bash")) >= 2
    assert sum(code.startswith(NOT_RUN) for _, code in blocks("python")) <= 2


@pytest.mark.slow
def test_every_python_block_runs_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAGLE_KIT_SHAPES_MODEL", raising=False)
    namespace: dict = {"__name__": "__readme__"}
    ran = 0
    for line, code in blocks("python"):
        if code.startswith(NOT_RUN):
            continue
        # line numbers in a traceback are the README's
        compiled = compile("\n" * (line - 1) + code, str(README), "exec")
        exec(compiled, namespace)  # noqa: S102 - the README's own code
        ran += 1
    assert ran >= 3
    assert "expl" in namespace and (tmp_path / "caption.nc").is_file()


def command_lines() -> list[tuple[int, list[str]]]:
    """``(line, words)`` of every shell command (continuations joined, here-documents skipped)."""
    out = []
    for line, code in blocks("bash"):
        lines = code.splitlines()
        i = 0
        while i < len(lines):
            start, text = i, lines[i]
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1] + " " + lines[i]
            i += 1
            heredoc = re.search(r"<<-?\s*'?\"?(\w+)", text)
            if heredoc:  # the document is data for the command, not commands
                while i < len(lines) and lines[i].strip() != heredoc.group(1):
                    i += 1
                i += 1
                text = text[: heredoc.start()]
            words = shlex.split(text, comments=True)
            if words:
                out.append((line + start, words))
    return out


def test_every_eagle_kit_subcommand_in_the_readme_exists(capsys) -> None:
    seen = set()
    for line, words in command_lines():
        if Path(words[0]).name != "eagle-kit":
            continue
        sub = words[1]
        with pytest.raises(SystemExit) as done:
            main([sub, "--help"])
        assert done.value.code == 0, f"README line {line}: `eagle-kit {sub}` is no subcommand"
        try:  # and its options as written parse (nothing runs)
            build_parser().parse_args(words[1:])
        except SystemExit as err:
            raise AssertionError(f"README line {line}: {' '.join(words)} does not parse") from err
        seen.add(sub)
    capsys.readouterr()
    assert seen, "the README shows no eagle-kit command"


def test_every_make_target_in_the_readme_exists() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w.-]*):", makefile, re.M))
    for line, words in command_lines():
        if words[0] == "make":
            for target in words[1:]:
                assert target in targets, f"README line {line}: no make target {target!r}"


def test_every_papermill_command_names_a_notebook_and_its_parameters() -> None:
    n = 0
    for line, words in command_lines():
        if Path(words[0]).name != "papermill":
            continue
        notebook = REPO / words[1]
        assert notebook.is_file(), f"README line {line}: no notebook {words[1]}"
        cells = json.loads(notebook.read_text())["cells"]
        (params,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        source = "".join(params["source"])
        names = set(re.findall(r"^(\w+)\s*(?::[^=]*)?=", source, re.M))
        given = [words[i + 1] for i, w in enumerate(words) if w == "-p"]
        for name in given:
            assert name in names, f"README line {line}: {words[1]} has no parameter {name!r}"
        n += 1
    assert n >= 1
