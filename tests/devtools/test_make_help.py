"""`make help` says what each target takes: the variables its recipe reads, and no variable that does not exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO_ROOT / "Makefile").read_text()
#: What a user sets on the command line (`make run PORT=8081`): the ?= defaults and the *_ARGS pass-throughs.
USER_SETTABLE = set(re.findall(r"^([A-Z_]+) \?=", MAKEFILE, re.MULTILINE)) | set(
    re.findall(r"\b([A-Z]+_ARGS)\b", MAKEFILE)
)
_DEFINITION = re.compile(r"^([A-Z_]+) *[:?]?= *(.*)$", re.MULTILINE)
_RULE = re.compile(r"^([a-z-]+):[^\n]*?## (.*)$")


def variables_read(text: str, definitions: dict[str, str], seen: frozenset[str] = frozenset()) -> set[str]:
    """The variables `text` reads, through the definitions of the ones it names."""
    found = set(re.findall(r"\$\(([A-Z_]+)\)", text))
    for name in found - seen:
        found |= variables_read(definitions.get(name, ""), definitions, seen | found)
    return found


def targets() -> dict[str, tuple[str, str]]:
    """{target: (help text, recipe)}"""
    found: dict[str, tuple[str, str]] = {}
    lines = MAKEFILE.splitlines()
    for index, line in enumerate(lines):
        rule = _RULE.match(line)
        if rule:
            recipe = []
            for following in lines[index + 1 :]:
                if not following.startswith("\t"):
                    break
                recipe.append(following)
            found[rule[1]] = (rule[2], "\n".join(recipe))
    return found


def test_help_prints_no_make_syntax() -> None:
    out = subprocess.run(["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert "$(" not in out
    assert len(out.splitlines()) == len(targets())


def test_every_variable_a_recipe_reads_is_in_its_help() -> None:
    definitions = dict(_DEFINITION.findall(MAKEFILE))
    missing = {
        target: sorted(variables_read(recipe, definitions) & USER_SETTABLE - set(re.findall(r"[A-Z_]+", help_text)))
        for target, (help_text, recipe) in targets().items()
    }
    assert {target: names for target, names in missing.items() if names} == {}


def test_help_names_only_variables_that_exist() -> None:
    named = {name for help_text, _ in targets().values() for name in re.findall(r"\b([A-Z][A-Z0-9_]*)=", help_text)}
    assert named <= USER_SETTABLE, named - USER_SETTABLE
