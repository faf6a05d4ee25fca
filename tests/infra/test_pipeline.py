"""The pipeline stack: shape and order of the pipeline, what each step runs, notifications, config, no mutation loop."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Match, Template

from app import load
from pipeline import buildspec
from pipeline.nag_acks import reason_for
from pipeline.pipeline_stack import CDK_ASSETS_VERSION, PIPELINE_STACK_ID, cdk_cli_version
from pipeline.template_fixes import join_to_sub
from stages.canary import CANARY_FILE, CANARY_KEY
from stages.config import CONTEXT_KEY, ConfigError

from .conftest import Synth, cdk_json_context, only, synthesize

REPO_ROOT = Path(__file__).resolve().parents[2]

# ---- helpers -------------------------------------------------------------------------------------------------


def _pipeline(template: Template) -> dict[str, Any]:
    return only(template.find_resources("AWS::CodePipeline::Pipeline"))["Properties"]


def _stages(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Stage name -> its actions sorted by run order."""
    return {s["Name"]: sorted(s["Actions"], key=lambda a: a["RunOrder"]) for s in _pipeline(template)["Stages"]}


def _project(template: Template, action: dict[str, Any]) -> dict[str, Any]:
    logical_id = action["Configuration"]["ProjectName"]["Ref"]
    return template.to_json()["Resources"][logical_id]["Properties"]


def _buildspec(template: Template, action: dict[str, Any], synth: Synth) -> dict[str, Any]:
    """A CodeBuild action's buildspec: inline in the template, or the file CDK Pipelines writes next to it."""
    spec = _project(template, action)["Source"]["BuildSpec"]
    if spec.startswith("buildspec-"):
        return json.loads((synth.outdir / spec).read_text())
    return json.loads(spec)


def _commands(spec: dict[str, Any]) -> list[str]:
    return [c for phase in spec["phases"].values() for c in phase.get("commands", [])]


# ---- order and shape -----------------------------------------------------------------------------------------


def test_stages_in_order(pipeline_template: Template) -> None:
    stages = _stages(pipeline_template)
    assert list(stages) == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "ApproveProd", "Prod"]
    assert [a["Name"] for a in stages["Build"]] == ["Synth"]
    assert [a["Name"] for a in stages["UpdatePipeline"]] == ["SelfMutate"]
    source = only({a["Name"]: a for a in stages["Source"]})
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"] == {
        "ConnectionArn": load(cdk_json_context()[CONTEXT_KEY]).pipeline.connection_arn,
        "FullRepositoryId": "example-org/download-service",
        "BranchName": "main",
    }


def _kinds(actions: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(a["Name"], a["ActionTypeId"]["Category"], a["RunOrder"]) for a in actions]


def test_dev_gates_the_image_then_deploys_then_smoke_tests(synth: Synth, pipeline_template: Template) -> None:
    dev = _stages(pipeline_template)["Dev"]
    assert _kinds(dev) == [
        ("ImageGate", "Build", 1),  # the pushed image's scan findings, before anything runs it
        ("Stateful.Prepare", "Deploy", 2),
        ("Stateful.Deploy", "Deploy", 3),
        ("Stateless.Prepare", "Deploy", 4),
        ("Stateless.Deploy", "Deploy", 5),
        ("Smoke", "Build", 6),
    ]
    spec = json.dumps(_buildspec(pipeline_template, dev[0], synth))
    assert "devtools.image_gate" in spec
    gate = _project(pipeline_template, dev[0])
    env = {v["Name"]: v["Value"] for v in gate["Environment"]["EnvironmentVariables"]}
    assert env["IMAGE_REPOSITORY"] == "cdk-hnb659fds-container-assets-123456789012-eu-west-1"
    # The image asset's hash: the tag cdk-assets pushes for the very image dev then runs.
    assert env["IMAGE_TAG"] == synth.built.stages["dev"].stateless.service.image_asset.asset_hash


def test_prod_waits_for_an_approval_stage_of_its_own(pipeline_template: Template) -> None:
    stages = _stages(pipeline_template)
    assert list(stages).index("ApproveProd") == list(stages).index("Prod") - 1
    (approve,) = stages["ApproveProd"]
    assert approve["Name"] == "Approve"
    assert approve["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    prod = stages["Prod"]
    deploys = [a for a in prod if a["ActionTypeId"]["Category"] == "Deploy"]
    assert len(deploys) == 4
    # prod has a domain: the DNS delegation check runs after the approval and before the first deployment
    assert [a["Name"] for a in prod] == [
        "CheckDns",
        "Stateful.Prepare",
        "Stateful.Deploy",
        "Stateless.Prepare",
        "Stateless.Deploy",
        "Smoke",
    ]
    assert prod[-1]["RunOrder"] > max(a["RunOrder"] for a in deploys)


def test_pipeline_type_v2_restarts_on_self_update(pipeline_template: Template) -> None:
    props = _pipeline(pipeline_template)
    assert props["PipelineType"] == "V2"
    assert props["RestartExecutionOnUpdate"] is True
    assert props["Name"] == "download-service"


def test_self_mutation_deploys_this_stack_with_the_pinned_cli(pipeline_template: Template, synth: Synth) -> None:
    action = only({a["Name"]: a for a in _stages(pipeline_template)["UpdatePipeline"]})
    commands = _commands(_buildspec(pipeline_template, action, synth))
    version = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert cdk_cli_version() == version
    assert f"npm install -g aws-cdk@{version}" in commands
    assert any(re.search(rf"cdk -a \S+ deploy {PIPELINE_STACK_ID} ", c) for c in commands), commands


def test_one_image_publishing_action_for_both_stages(pipeline_template: Template, synth: Synth) -> None:
    assets = _stages(pipeline_template)["Assets"]
    docker = [a for a in assets if a["Name"].startswith("Docker")]
    assert len(docker) == 1, [a["Name"] for a in assets]  # publish_assets_in_parallel=False: one per asset type
    publish = [c for c in _commands(_buildspec(pipeline_template, docker[0], synth)) if c.startswith("cdk-assets ")]
    assert len(publish) == 1  # dev and prod share one image asset: built once, promoted unchanged
    installs = [c for a in assets for c in _commands(_buildspec(pipeline_template, a, synth)) if "npm install" in c]
    assert installs
    assert all(c.endswith(f"cdk-assets@{CDK_ASSETS_VERSION}") for c in installs)
    # ...and both stages' task definitions point at that one image
    image_hash = re.search(r'publish "([0-9a-f]{64}):', publish[0]).group(1)
    for stage in ("dev", "prod"):
        task = only(synth.template(stage, "stateless").find_resources("AWS::ECS::TaskDefinition"))
        assert image_hash in json.dumps(task["Properties"]["ContainerDefinitions"][0]["Image"])


# ---- what the steps run --------------------------------------------------------------------------------------


def test_synth_step_runs_buildspec_yml(pipeline_template: Template, synth: Synth) -> None:
    action = only({a["Name"]: a for a in _stages(pipeline_template)["Build"]})
    spec = _buildspec(pipeline_template, action, synth)
    raw = yaml.safe_load((REPO_ROOT / "buildspec.yml").read_text())
    assert spec["phases"]["install"]["runtime-versions"] == raw["phases"]["install"]["runtime-versions"]
    assert spec["phases"]["install"]["commands"] == raw["phases"]["install"]["commands"]
    assert spec["phases"]["build"]["commands"] == raw["phases"]["build"]["commands"]
    assert spec["reports"] == raw["reports"]
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    env = _project(pipeline_template, action)["Environment"]
    assert {v["Name"]: v["Value"] for v in env["EnvironmentVariables"]} == raw["env"]["variables"]
    assert env["Image"].startswith("aws/codebuild/standard:8.0")  # nodejs 24 (the pinned LTS) and python 3.12
    assert raw["phases"]["install"]["runtime-versions"] == {"python": "3.12", "nodejs": "24"}
    assert env["ComputeType"] == "BUILD_GENERAL1_MEDIUM"  # the gates run gunicorn, SeaweedFS and many synths
    # the gates the issue asks for are all in there, as Make targets
    assert {"make lint", "make test-ci", "make scan", "make synth"} <= set(raw["phases"]["build"]["commands"])
    # and the dependency audit is a hard gate in CodeBuild, where PyPI's vulnerability data is reachable
    assert raw["env"]["variables"]["AUDIT_IF_UNREACHABLE"] == "fail"


@pytest.mark.parametrize("stage", ["Dev", "Prod"])
def test_smoke_step_gets_the_url_from_the_stage_outputs(pipeline_template: Template, synth: Synth, stage: str) -> None:
    actions = _stages(pipeline_template)[stage]
    smoke = actions[-1]
    assert smoke["Name"] == "Smoke"
    variables = {v["name"]: v["value"] for v in json.loads(smoke["Configuration"]["EnvironmentVariables"])}
    namespace = re.fullmatch(r"#\{(\w+)\.ServiceUrl\}", variables["SMOKE_BASE_URL"]).group(1)
    stateless = next(a for a in actions if a["Name"] == "Stateless.Deploy")
    assert stateless["Namespace"] == namespace
    assert stateless["Configuration"]["StackName"] == f"{stage}-Stateless"
    project = _project(pipeline_template, smoke)
    env = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert env == {
        "SMOKE_OBJECT_KEY": CANARY_KEY,
        "SMOKE_OBJECT_SHA256": hashlib.sha256(CANARY_FILE.read_bytes()).hexdigest(),
    }
    assert _commands(_buildspec(pipeline_template, smoke, synth))[-1] == "make smoke"


def test_every_stage_seeds_the_canary_the_smoke_step_expects(synth: Synth) -> None:
    for name in ("dev", "prod", "sandbox"):
        stage = synth.built.stages[name]
        template = synth.template(name, "stateless")
        assert stage.canary.key == CANARY_KEY
        writer = only(template.find_resources("Custom::AWS"))["Properties"]
        key = stage.config.service.files_prefix + CANARY_KEY
        for phase in ("Create", "Update"):
            call = json.loads(writer[phase])
            assert (call["service"], call["action"]) == ("S3", "putObject")
            assert call["parameters"]["Bucket"] == stage.config.files_bucket_name
            assert call["parameters"]["Key"] == key
            assert call["parameters"]["Body"].encode() == CANARY_FILE.read_bytes()
        # the writer may put that one object: no read, no delete, no other key
        policies = template.find_resources("AWS::IAM::Policy")
        statement = only({k: v for k, v in policies.items() if k.startswith("Canary")})["Properties"]
        assert statement["PolicyDocument"]["Statement"] == [
            {
                "Action": "s3:PutObject",
                "Effect": "Allow",
                "Resource": f"arn:aws:s3:::{stage.config.files_bucket_name}/{key}",
            }
        ]
    assert CANARY_FILE.name in CANARY_KEY


def test_approval_notifies_the_topic_and_links_the_dev_url(pipeline_template: Template) -> None:
    stages = _stages(pipeline_template)
    approve = stages["ApproveProd"][0]
    dev_namespace = next(a for a in stages["Dev"] if a["Name"] == "Stateless.Deploy")["Namespace"]
    topic = only(pipeline_template.find_resources("AWS::SNS::Topic"))
    topic_id = next(iter(pipeline_template.find_resources("AWS::SNS::Topic")))
    assert approve["Configuration"]["NotificationArn"] == {"Ref": topic_id}
    assert approve["Configuration"]["ExternalEntityLink"] == f"#{{{dev_namespace}.ServiceUrl}}"
    assert f"#{{{dev_namespace}.ServiceUrl}}" in approve["Configuration"]["CustomData"]
    # the approver sees where dev's critical alarm is (prod's entry condition reads it right after the approval)
    assert "#alarmsV2:alarm/download-service-dev-Critical" in approve["Configuration"]["CustomData"]
    assert "KmsMasterKeyId" in topic["Properties"]
    pipeline_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    pipeline_template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": {"Ref": topic_id}}
    )


def test_failures_notify_the_topic(pipeline_template: Template) -> None:
    topic_id = next(iter(pipeline_template.find_resources("AWS::SNS::Topic")))
    rule = only(pipeline_template.find_resources("AWS::CodeStarNotifications::NotificationRule"))["Properties"]
    assert rule["Targets"] == [{"TargetAddress": {"Ref": topic_id}, "TargetType": "SNS"}]
    assert "codepipeline-pipeline-pipeline-execution-failed" in rule["EventTypeIds"]
    pipeline_id = next(iter(pipeline_template.find_resources("AWS::CodePipeline::Pipeline")))
    assert {"Ref": pipeline_id} in rule["Resource"]["Fn::Join"][1]


def test_pull_requests_run_the_same_buildspec_and_report_status(pipeline_template: Template) -> None:
    projects = pipeline_template.find_resources(
        "AWS::CodeBuild::Project", {"Properties": {"Source": {"Type": "GITHUB"}}}
    )
    props = only(projects)["Properties"]
    source = props["Source"]
    assert source["Location"] == "https://github.com/example-org/download-service.git"
    assert source["ReportBuildStatus"] is True
    assert "BuildSpec" not in source  # CodeBuild reads buildspec.yml from the pull request's checkout
    assert source["Auth"] == {
        "Type": "CODECONNECTIONS",
        "Resource": load(cdk_json_context()[CONTEXT_KEY]).pipeline.connection_arn,
    }
    filters = props["Triggers"]["FilterGroups"][0]
    assert filters[0] == {
        "Type": "EVENT",
        "Pattern": "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED",
    }
    assert {"Type": "BASE_REF", "Pattern": "refs/heads/main"} in filters
    assert props["Triggers"]["Webhook"] is True
    assert props["Environment"]["ComputeType"] == "BUILD_GENERAL1_MEDIUM"  # same gates as the Synth step
    # strangers' pull requests (their buildspec.yml, our role) wait for a maintainer's approval comment
    assert props["Triggers"]["PullRequestBuildPolicy"] == {
        "RequiresCommentApproval": "ALL_PULL_REQUESTS",
        "ApproverRoles": ["GITHUB_WRITE", "GITHUB_MAINTAIN", "GITHUB_ADMIN"],
    }


def test_artifact_bucket_same_account_sse_s3_logged_and_ssl_only(pipeline_template: Template) -> None:
    assert not pipeline_template.find_resources(
        "AWS::KMS::Key", {"Properties": {"Description": Match.string_like_regexp("artifacts")}}
    )
    bucket_id = _pipeline(pipeline_template)["ArtifactStore"]["Location"]["Ref"]
    bucket = pipeline_template.to_json()["Resources"][bucket_id]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert "LoggingConfiguration" in bucket


# ---- other shapes of cdk.json --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cross_account(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    context = cdk_json_context()
    context[CONTEXT_KEY]["stages"]["prod"]["account"] = "210987654321"
    return synthesize(tmp_path_factory.mktemp("cross-account"), context)


def test_cross_account_stage_with_a_domain_warns_that_its_dns_is_unchecked(cross_account: Synth) -> None:
    prod = _stages(Template.from_stack(cross_account.built.pipeline))["Prod"]
    assert "CheckDns" not in [a["Name"] for a in prod]  # the pipeline's account cannot read the zone
    warnings = cross_account.warnings(cross_account.built.pipeline)
    assert len([w for w in warnings if "make check-dns STAGE=prod" in w]) == 1


def test_cross_account_stage_gets_a_rotated_key(cross_account: Synth) -> None:
    template = Template.from_stack(cross_account.built.pipeline)
    keys = template.find_resources(
        "AWS::KMS::Key", {"Properties": {"Description": Match.string_like_regexp("artifacts")}}
    )
    key_id, key = next(iter(keys.items()))
    assert key["Properties"]["EnableKeyRotation"] is True
    store = _pipeline(template)["ArtifactStore"]
    assert store["EncryptionKey"]["Id"] == {"Fn::GetAtt": [key_id, "Arn"]}
    stages = _stages(template)
    # no DNS check where the pipeline's account cannot read the zone; the approval stage still comes first
    assert [a["Name"] for a in stages["ApproveProd"]] == ["Approve"]
    assert stages["Prod"][0]["Name"] == "Stateful.Prepare"


def test_without_a_pipeline_every_stage_is_top_level(tmp_path: Path) -> None:
    context = cdk_json_context()
    del context[CONTEXT_KEY]["pipeline"]
    from app import build, new_app

    app = new_app(context=context, outdir=str(tmp_path))
    built = build(app)
    assert built.pipeline is None
    assert {c.node.id for c in app.node.children if c.node.id != "Tree"} >= {"Sandbox", "Dev", "Prod"}


def test_app_keeps_only_the_sandbox_at_top_level(synth: Synth) -> None:
    top = {c.node.id for c in synth.app.node.children} - {"Tree"}
    assert top == {PIPELINE_STACK_ID, "Sandbox"}
    assert synth.built.config.sandbox_stages.keys() == {"sandbox"}
    assert set(synth.templates()) >= {
        "Dev-Stateful",
        "Dev-Stateless",
        "Prod-Stateful",
        "Prod-Stateless",
        "Sandbox-Stateful",
    }


def test_synth_ignores_what_the_build_writes_no_mutation_loop(
    synth: Synth, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The Synth step runs the tests before `cdk synth`; reports and caches they leave in the checkout must not
    change any template (else every run would update the pipeline and restart it)."""
    litter = [REPO_ROOT / "reports" / "mutation-loop-check.xml", REPO_ROOT / "src" / "mutation_loop_check.pyc"]
    try:
        for path in litter:
            path.parent.mkdir(exist_ok=True)
            path.write_text("left behind by a build\n")
        again = synthesize(tmp_path_factory.mktemp("littered"))
    finally:
        for path in litter:
            path.unlink(missing_ok=True)
    assert again.templates()[PIPELINE_STACK_ID] == synth.templates()[PIPELINE_STACK_ID]


# ---- config --------------------------------------------------------------------------------------------------


def _config(**pipeline: Any) -> dict[str, Any]:
    context = copy.deepcopy(cdk_json_context()[CONTEXT_KEY])
    context["pipeline"].update(pipeline)
    return context


def test_placeholder_pipeline_config_is_valid() -> None:
    config = load(cdk_json_context()[CONTEXT_KEY]).pipeline
    assert config is not None
    assert (config.owner, config.repo, config.branch) == ("example-org", "download-service", "main")
    assert (config.account, config.region) == ("123456789012", "eu-west-1")
    assert config.stages == ("dev", "prod")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("connection_arn", "arn:aws:codestar:eu-west-1:123456789012:connection/x", "is not a CodeConnections ARN"),
        ("connection_arn", None, "required"),
        ("repository", "download-service", "is not a GitHub repository as owner/repo"),
        ("branch", "feature..x", "is not a git branch name"),
        ("stages", [], "list the stages"),
        ("stages", ["dev", "dev"], "only once"),
        ("stages", ["dev", "staging"], "'staging' is not a stage"),
        ("notification_email", "ops", "is not an e-mail address"),
    ],
)
def test_bad_pipeline_config_is_one_line_naming_the_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(_config(**{field: value}))
    text = str(error.value)
    assert text.startswith(f"cdk.json: pipeline.{field}: ")
    assert message in text
    assert "\n" not in text


def test_codestar_connections_arns_are_accepted_too() -> None:
    arn = "arn:aws:codestar-connections:eu-west-1:111122223333:connection/0a1b2c3d-0000-4000-8000-123456789abc"
    config = load(_config(connection_arn=arn)).pipeline
    assert (config.account, config.region) == ("111122223333", "eu-west-1")


def test_unknown_pipeline_field_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^cdk.json: pipeline.repo: unknown field"):
        load(_config(repo="x"))


# ---- small pieces --------------------------------------------------------------------------------------------


def test_every_nag_reason_is_specific_and_unknown_findings_fail() -> None:
    with pytest.raises(ValueError, match="no reason on record"):
        reason_for("Action::iam:*", ["iam:*"], "Pipeline/Role")
    reason = reason_for("Action::s3:GetObject*", ["s3:GetObject*"], "Pipeline/Build/Role")
    assert "s3:GetObject*" in reason
    assert "Pipeline/Build/Role" in reason


def test_a_new_action_on_star_has_no_reason() -> None:
    reason_for("Resource::*", ["cloudformation:DescribeStacks"], "Pipeline/UpdatePipeline/SelfMutation/Role")
    with pytest.raises(ValueError, match="no reason on record"):
        reason_for("Resource::*", ["cloudformation:DescribeStacks", "iam:PassRole"], "Pipeline/UpdatePipeline/Role")
    # Starting any project of the account runs code as any project's role: never acceptable on *.
    with pytest.raises(ValueError, match="no reason on record"):
        reason_for("Resource::*", ["codebuild:StartBuild"], "Pipeline/Assets/DockerRole")


def test_join_to_sub() -> None:
    join = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::1:role/x-", {"Fn::GetAtt": ["R", "Arn"]}]]}
    assert join_to_sub(join) == {"Fn::Sub": "arn:${AWS::Partition}:iam::1:role/x-${R.Arn}"}
    assert join_to_sub("arn:aws:iam::1:role/x") == "arn:aws:iam::1:role/x"
    odd = {"Fn::Join": [",", ["a", "b"]]}
    assert join_to_sub(odd) is odd


def test_buildspec_parser_rejects_what_it_does_not_support() -> None:
    with pytest.raises(buildspec.BuildspecError, match=r"phases\.deploy"):
        buildspec.parse("version: 0.2\nphases:\n  deploy:\n    commands: [x]\n")
    with pytest.raises(buildspec.BuildspecError, match="version"):
        buildspec.parse("version: 0.1\nphases:\n  build:\n    commands: [x]\n")
    with pytest.raises(buildspec.BuildspecError, match="artifacts"):
        buildspec.parse("version: 0.2\nartifacts: {}\nphases:\n  build:\n    commands: [x]\n")
    with pytest.raises(buildspec.BuildspecError, match="runtime-versions"):
        buildspec.parse("version: 0.2\nphases:\n  build:\n    runtime-versions: {python: 3.12}\n    commands: [x]\n")


# ---- stage conditions (pipeline/conditions.py) ----------------------------------------------------------------------


def _alarm_rule(stage: str) -> dict[str, Any]:
    return {
        "Name": f"{stage.capitalize()}NotCritical",
        "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"},
        "Configuration": {"AlarmName": f"download-service-{stage}-Critical"},
        "Region": "eu-west-1",
    }


def _is_approval(action: dict[str, Any]) -> bool:
    return action["ActionTypeId"]["Category"] == "Approval"


def test_prod_enters_after_its_approval_only_while_dev_is_not_critical_and_rolls_back_on_failure(
    pipeline_template: Template,
) -> None:
    """Entry conditions are checked when an execution enters the stage (https://docs.aws.amazon.com/codepipeline/
    latest/userguide/stage-conditions.html): on Prod, which follows the approval stage, that is after the approval.
    Only dev's alarm, which dev's own deploy created two stages earlier (the CloudWatchAlarm rule "must have already
    created an alarm": .../rule-reference-CloudWatchAlarm.html). ROLLBACK re-runs a failed Prod with its last
    successful execution, only one "started in the current pipeline structure version" and only once the stage has
    succeeded before (.../stage-rollback-auto.html): never on the approval stage, where a rejection is a failure."""
    stages = {s["Name"]: s for s in _pipeline(pipeline_template)["Stages"]}
    assert stages["Prod"]["BeforeEntry"] == {"Conditions": [{"Result": "FAIL", "Rules": [_alarm_rule("dev")]}]}
    assert stages["Prod"]["OnFailure"] == {"Result": "ROLLBACK"}
    # The first stage deploys on every push; the approval stage has nothing to check before it and nothing to roll
    # back after a rejection.
    assert not {"BeforeEntry", "OnFailure"} & (set(stages["Dev"]) | set(stages["ApproveProd"]))


def _critical_alarms_created(synth: Synth, stage_id: str) -> set[str]:
    stage = next(s for s in synth.built.stages.values() if s.config.construct_id == stage_id)
    return {
        alarm["Properties"]["AlarmName"]
        for stack in ("stateful", "stateless")
        for alarm in synth.template(stage.config.name, stack).find_resources("AWS::CloudWatch::CompositeAlarm").values()
    }


def test_stage_conditions_keep_their_promises(synth: Synth, pipeline_template: Template) -> None:
    """The invariants issue 23 asks for, on the whole pipeline: an approval stage precedes each gated stage; no stage
    that holds an approval has an entry condition (it would be read before the approval) or rolls back (a rejection
    would ask for the approval again); no entry rule reads an alarm its own stage's stacks create (it does not exist
    at that stage's first run)."""
    stages = _pipeline(pipeline_template)["Stages"]
    gated = [s for s in stages if "BeforeEntry" in s]
    assert [s["Name"] for s in gated] == ["Prod"]
    for stage in stages:
        if any(_is_approval(a) for a in stage["Actions"]):
            assert not {"BeforeEntry", "OnFailure"} & set(stage), stage["Name"]
            assert all(_is_approval(a) for a in stage["Actions"]), stage["Name"]
    for stage in gated:
        before = stages[stages.index(stage) - 1]
        assert any(_is_approval(a) for a in before["Actions"]), stage["Name"]
        read = {r["Configuration"]["AlarmName"] for c in stage["BeforeEntry"]["Conditions"] for r in c["Rules"]}
        assert read
        assert not read & _critical_alarms_created(synth, stage["Name"]), stage["Name"]
    assert [s["Name"] for s in stages if "OnFailure" in s] == ["Prod"]


def test_pipeline_role_reads_exactly_the_gate_alarms(pipeline_template: Template) -> None:
    statements = [
        statement
        for policy in pipeline_template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "cloudwatch" in json.dumps(statement["Action"])
    ]
    assert statements == [
        {
            "Action": "cloudwatch:DescribeAlarms",
            "Effect": "Allow",
            "Resource": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:download-service-dev-Critical",
            "Sid": "ReadProdEntryAlarms",
        }
    ]


def test_cross_account_stage_gate_is_skipped_with_a_warning_when_the_pipeline_cannot_read_its_alarm(
    cross_account: Synth,
) -> None:
    """Prod in another account still reads dev's alarm (the pipeline's account); a prod whose previous stage is in
    another account has no rule it could evaluate, and says so."""
    stages = {s["Name"]: s for s in _pipeline(Template.from_stack(cross_account.built.pipeline))["Stages"]}
    assert stages["Prod"]["BeforeEntry"]["Conditions"][0]["Rules"] == [_alarm_rule("dev")]
    assert stages["Prod"]["OnFailure"] == {"Result": "ROLLBACK"}
