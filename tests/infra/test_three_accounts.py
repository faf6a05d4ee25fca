"""The recommended layout, examples/three-accounts.json: the pipeline in a tooling account, dev (with the sandbox)
and prod each in their own. Synthesized with cdk.json's feature flags, as `cdk synth` would with the example's
section in cdk.json; the assertions are on what the layout changes."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from stages.common.boundary import boundary_arn
from stages.config import CONTEXT_KEY

from .cfn_permissions import uncovered
from .conftest import THREE_ACCOUNTS as EXAMPLE
from .conftest import Synth, three_accounts_context
from .iam_support import app_config, execution_policies, roles, stage_stacks
from .policy_eval import Request, allowed

TOOLING, DEV, PROD = "111111111111", "222222222222", "333333333333"


def test_the_example_is_only_the_service_section() -> None:
    """The feature flags stay in cdk.json (one copy): the example is what replaces its `download-service` value."""
    assert list(json.loads(EXAMPLE.read_text())) == [CONTEXT_KEY]


def test_each_stage_lives_in_its_account_and_the_pipeline_in_the_tooling_one(three_accounts: Synth) -> None:
    built = three_accounts.built
    assert (built.pipeline.account, built.pipeline.region) == (TOOLING, "eu-west-1")
    accounts = {name: (s.stateful.account, s.stateless.account) for name, s in built.stages.items()}
    assert accounts == {"sandbox": (DEV, DEV), "dev": (DEV, DEV), "prod": (PROD, PROD)}


def test_every_stage_role_is_bounded_by_its_own_accounts_boundary(three_accounts: Synth) -> None:
    for stack in stage_stacks(three_accounts):
        for role_id in roles(stack):
            assert stack.resources[role_id]["Properties"]["PermissionsBoundary"] == boundary_arn(stack.account)


def test_the_execution_policies_cover_this_layout_and_take_no_other_accounts_boundary(three_accounts: Synth) -> None:
    config = app_config(three_accounts_context())
    for stack in stage_stacks(three_accounts):  # each with the policies make bootstrap installs in its account
        documents = execution_policies(stack.account, config)
        types = {r["Type"] for r in stack.resources.values()}
        assert uncovered(types, documents, check_stale=False) == {}, stack.name
        if not roles(stack):  # Prod-Stateful has none
            continue
        role = stack.get_att(roles(stack)[0], "Arn")
        own = {"aws:PrincipalAccount": stack.account, "iam:PermissionsBoundary": boundary_arn(stack.account)}
        assert allowed(documents, Request("iam:CreateRole", role, own))
        foreign = {**own, "iam:PermissionsBoundary": boundary_arn(TOOLING)}
        assert not allowed(documents, Request("iam:CreateRole", role, foreign))


def test_the_pipeline_deploys_through_each_stage_accounts_bootstrap_roles(three_accounts: Synth) -> None:
    """What `cdk bootstrap --trust TOOLING` in dev and prod is for: the pipeline assumes their deploy and
    publishing roles, and CloudFormation runs there with that account's execution role (and policies)."""
    template = json.dumps(three_accounts.templates()["DownloadServicePipeline"])
    for account in (DEV, PROD):
        for role in ("deploy-role", "cfn-exec-role", "file-publishing-role", "image-publishing-role"):
            assert f"cdk-hnb659fds-{role}-{account}-eu-west-1" in template, (account, role)
    assert f"cdk-hnb659fds-deploy-role-{TOOLING}" not in template  # no stage in the tooling account


def test_artifacts_are_encrypted_with_a_rotated_key_the_stage_accounts_can_use(three_accounts: Synth) -> None:
    template = Template.from_stack(three_accounts.built.pipeline)
    keys = template.find_resources(
        "AWS::KMS::Key", {"Properties": {"Description": Match.string_like_regexp("artifacts")}}
    )
    (key,) = keys.values()
    assert key["Properties"]["EnableKeyRotation"] is True
    principals = json.dumps(key["Properties"]["KeyPolicy"])
    assert DEV in principals
    assert PROD in principals


def test_what_the_pipeline_cannot_see_across_accounts_is_a_synth_warning(three_accounts: Synth) -> None:
    warnings = three_accounts.warnings(three_accounts.built.pipeline)
    assert any("make check-dns STAGE=prod" in w for w in warnings)  # prod's zone is in prod's account
    # Prod's entry condition would read dev's critical alarm, in dev's account: not from the tooling account, so
    # prod has none (docs/operations.md §2: check dev before approving); its rollback on failure stays.
    assert any("cannot read 'dev''s alarms" in w for w in warnings)
    prod = next(s for s in Template.from_stack(three_accounts.built.pipeline).to_json()["Resources"].values()
                if s["Type"] == "AWS::CodePipeline::Pipeline")["Properties"]["Stages"][-1]  # fmt: skip
    assert prod["Name"] == "Prod"
    assert "BeforeEntry" not in prod
    assert prod["OnFailure"] == {"Result": "ROLLBACK"}
