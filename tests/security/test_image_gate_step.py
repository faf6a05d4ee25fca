"""pipeline/image_gate.py: the gate's CodeBuild step, synthesized inside a minimal pipeline: what it runs, with which
environment, and that its role may read that one repository's images and scan findings and no other ECR resource."""

from __future__ import annotations

import json
import shlex

import pytest
from aws_cdk import App, Environment, Stack, assertions, pipelines

from devtools import image_gate as cli
from pipeline import buildspec
from pipeline.image_gate import ACTIONS, image_gate_step
from tests.security.ecr_responses import ACCOUNT, REGION, REPOSITORY, TAG

CONNECTION = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


@pytest.fixture(scope="module")
def template() -> assertions.Template:
    stack = Stack(App(), "GateTest", env=Environment(account=ACCOUNT, region=REGION))
    source = pipelines.CodePipelineSource.connection("example/download-service", "main", connection_arn=CONNECTION)
    pipeline = pipelines.CodePipeline(
        stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=source, commands=["true"])
    )
    step = image_gate_step(
        input=source,
        repository_name=REPOSITORY,
        image_tag=TAG,
        account=ACCOUNT,
        region=REGION,
        fail_on=("CRITICAL", "HIGH"),
    )
    pipeline.add_wave("Dev", pre=[step])
    return assertions.Template.from_stack(stack)


def _gate_project(template: assertions.Template) -> dict:
    (project,) = [p for name, p in template.find_resources("AWS::CodeBuild::Project").items() if "ImageGate" in name]
    return project["Properties"]


def _ecr_statements(template: assertions.Template) -> list[dict]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(action).startswith("ecr") for action in _as_list(statement["Action"]))
    ]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_the_role_reads_only_that_repositorys_images_and_findings(template):
    (statement,) = _ecr_statements(template)  # no other ECR grant anywhere in the pipeline
    assert statement["Effect"] == "Allow"
    assert sorted(_as_list(statement["Action"])) == sorted(ACTIONS)
    assert statement["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"]]
    }


def test_it_installs_the_locked_venv_then_runs_the_gate_on_that_image(template):
    properties = _gate_project(template)
    spec = json.loads(properties["Source"]["BuildSpec"])
    assert spec["phases"]["install"]["commands"] == ["make venv"]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": buildspec.load().runtime_versions["python"]}
    env = {v["Name"]: v["Value"] for v in properties["Environment"]["EnvironmentVariables"]}
    assert env == {"IMAGE_REPOSITORY": REPOSITORY, "IMAGE_TAG": TAG, "IMAGE_ACCOUNT": ACCOUNT, "IMAGE_REGION": REGION}

    (command,) = spec["phases"]["build"]["commands"]
    words = shlex.split(command.replace("$IMAGE_", "IMAGE_"))
    assert words[:3] == [".venv/bin/python", "-m", "devtools.image_gate"]
    args = cli.parse_args(words[3:])  # the CLI accepts exactly what the step passes
    assert (args.repository, args.tag, args.registry_id, args.region) == (
        "IMAGE_REPOSITORY",
        "IMAGE_TAG",
        "IMAGE_ACCOUNT",
        "IMAGE_REGION",
    )
    assert args.fail_on == {"CRITICAL", "HIGH"}
    assert args.wait_seconds == 900
    assert properties["TimeoutInMinutes"] > 900 / 60  # CodeBuild never cuts the bounded wait short
