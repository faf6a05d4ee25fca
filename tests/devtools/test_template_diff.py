"""devtools.template_diff's context: what each side of a refactor proof is synthesized with."""

import json
from pathlib import Path

from devtools.template_diff import context_for

ROOT = Path(__file__).resolve().parents[2]


def test_a_context_file_replaces_only_its_own_keys_so_the_feature_flags_stay():
    shipped = json.loads((ROOT / "cdk.json").read_text())["context"]
    example = ROOT / "examples" / "three-accounts.json"
    context = context_for(ROOT, example)
    assert context["download-service"] == json.loads(example.read_text())["download-service"]
    flags = {key: value for key, value in shipped.items() if key != "download-service"}
    assert flags  # the shipped cdk.json carries feature flags: without them the example's synth fails
    assert {key: context[key] for key in flags} == flags


def test_without_a_context_file_each_side_uses_its_own_cdk_json(tmp_path):
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": {"flag": True}}))
    assert context_for(tmp_path, None) == {"flag": True}
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"context": {"flag": False, "extra": 1}}))  # a whole cdk.json as --context
    assert context_for(tmp_path, other) == {"flag": False, "extra": 1}
