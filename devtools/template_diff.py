"""Prove a refactor: synthesize the CDK app at a git ref and at the working tree, and diff every template.

    python -m devtools.template_diff                  # against HEAD
    python -m devtools.template_diff --base origin/main --context examples/three-accounts.json

Both sides run `app.py` exactly as the CDK CLI does (context from cdk.json with `--context`'s keys over it, in
CDK_CONTEXT_JSON), offline. Prints one line per template and one per differing JSON path; exits 1 if anything
differs. Container image asset hashes change with the build context (src/, the Dockerfile), not with the CDK code:
`--ignore-image-hash` replaces them with a placeholder, and the report counts how many places it replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def context_for(tree: Path, context_file: Path | None) -> dict[str, Any]:
    """`tree`'s cdk.json context with the keys of `context_file` (a cdk.json or a bare context such as
    examples/three-accounts.json, which holds only the download-service section) laid over it: the feature flags
    stay those of the tree, as the CDK CLI would merge `--context` values over cdk.json's."""
    context = json.loads((tree / "cdk.json").read_text())["context"]
    if context_file:
        document = json.loads(context_file.read_text())
        context = {**context, **document.get("context", document)}
    return context


def synthesize(tree: Path, outdir: Path, context_file: Path | None) -> dict[str, Any]:
    """Run `tree`'s app.py into `outdir`; return {template file name: template}."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context_for(tree, context_file)),
        "CDK_OUTDIR": str(outdir),
        "PYTHONPATH": f"{tree / 'src'}:{tree}",
    }
    done = subprocess.run(
        [sys.executable, str(tree / "app.py")], cwd=tree, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        sys.exit(f"synth of {tree} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    found = outdir.rglob("*.template.json")
    return {path.relative_to(outdir).as_posix(): json.loads(path.read_text()) for path in found}


def image_hashes(templates: dict[str, Any]) -> set[str]:
    """The container image asset hashes the templates refer to (image tags in the asset repository)."""
    found: set[str] = set()
    for template in templates.values():
        found.update(re.findall(r"container-assets-[^\"]*?:([0-9a-f]{64})", json.dumps(template)))
    return found


def differences(before: Any, after: Any, path: str = "") -> Iterator[str]:
    """JSON paths where `before` and `after` differ (lists compared position by position)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if key not in after:
                yield f"{path}/{key}: removed"
            elif key not in before:
                yield f"{path}/{key}: added"
            else:
                yield from differences(before[key], after[key], f"{path}/{key}")
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from differences(old, new, f"{path}/{index}")
    elif before != after:
        yield f"{path}: {json.dumps(before)[:120]} -> {json.dumps(after)[:120]}"


def mask(templates: dict[str, Any], hashes: set[str]) -> tuple[dict[str, Any], int]:
    text = json.dumps(templates)
    count = sum(text.count(value) for value in hashes)
    for value in hashes:
        text = text.replace(value, "<image-hash>")
    # APP_VERSION is the image hash's first 12 characters.
    for value in hashes:
        count += text.count(value[:12])
        text = text.replace(value[:12], "<image-hash>")
    return json.loads(text), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD", help="git ref to compare against (default HEAD)")
    parser.add_argument("--context", type=Path, help="JSON whose keys replace those of each side's cdk.json context")
    parser.add_argument("--ignore-image-hash", action="store_true", help="mask container image asset hashes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="template-diff-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), args.base], cwd=ROOT, check=True)
        try:
            before = synthesize(base_tree, Path(tmp) / "before", args.context)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=True)
        after = synthesize(ROOT, Path(tmp) / "after", args.context)
    masked = 0
    if args.ignore_image_hash:
        hashes = image_hashes(before) | image_hashes(after)
        before, masked_before = mask(before, hashes)
        after, masked = mask(after, hashes)
        masked = max(masked, masked_before)
    changed = 0
    for name in sorted(set(before) | set(after)):
        found = list(differences(before.get(name), after.get(name)))
        changed += bool(found)
        print(f"{name}: {'identical' if not found else f'{len(found)} difference(s)'}")
        for line in found:
            print(f"  {line}")
    note = f"; {masked} image-hash place(s) masked" if args.ignore_image_hash else ""
    print(f"{len(set(before) | set(after))} templates, {changed} differ (base {args.base}){note}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
