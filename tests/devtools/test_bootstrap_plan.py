"""make bootstrap's plan (devtools/bootstrap/plan.py), from cdk.json alone: which accounts, regions, guardrails, trust,
scanning and repository policies; and the registry merges (registry.py) on their own."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_cdk import DefaultStackSynthesizer
from botocore.stub import Stubber

from app import load
from devtools.bootstrap import plan as plan_module
from devtools.bootstrap.aws import BootstrapError
from devtools.bootstrap.plan import QUALIFIER, asset_repository, plan
from devtools.bootstrap.registry import ASSET_FILTER, gate_statement, merge_repository_policy, merge_scanning
from pipeline.guardrails import DEPLOY_BOUNDARY, PIPELINE_BOUNDARY, STAGE_BOUNDARY
from stages.config import CONTEXT_KEY
from tests.infra.conftest import cdk_json_context, three_accounts_context

TOOLING, DEV, PROD = "111111111111", "222222222222", "333333333333"
REPOSITORY = asset_repository(DEV, "eu-west-1")


def _plans(context):
    return {p.account: p for p in plan(load(context[CONTEXT_KEY]))}


def test_the_qualifier_is_the_cdks_default() -> None:
    assert QUALIFIER == DefaultStackSynthesizer.DEFAULT_QUALIFIER


def test_one_account_gets_every_guardrail_one_region_and_trusts_nobody() -> None:
    (only,) = _plans(cdk_json_context()).values()
    assert only.regions == ("eu-west-1",)
    assert only.trust is None
    assert {STAGE_BOUNDARY, PIPELINE_BOUNDARY, DEPLOY_BOUNDARY} <= set(only.guardrails.all)
    assert len(only.guardrails.execution) == 7
    assert only.scanned_regions == ("eu-west-1",)
    assert only.gated_regions == ()  # the gate reads its own account's repository


def test_three_accounts_trust_the_tooling_one_and_the_gate_reads_dev_across() -> None:
    plans = _plans(three_accounts_context())
    assert list(plans) == [TOOLING, DEV, PROD]  # the pipeline's account first
    tooling, dev, prod = plans.values()
    assert tooling.guardrails.boundaries == (PIPELINE_BOUNDARY, DEPLOY_BOUNDARY)
    assert (tooling.trust, dev.trust, prod.trust) == (None, TOOLING, TOOLING)
    assert tooling.scanned_regions == ()  # no image is published to the tooling account
    assert dev.scanned_regions == prod.scanned_regions == ("eu-west-1",)
    assert (dev.gated_regions, prod.gated_regions) == (("eu-west-1",), ())  # the first pipeline stage is dev


def test_every_region_a_stage_deploys_to_is_bootstrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """stage_regions is the one place: a per-stage us-east-1 stack (the CDN edge) adds its region there."""
    monkeypatch.setattr(plan_module, "stage_regions", lambda stage: (stage.region, "us-east-1"))
    plans = _plans(three_accounts_context())
    assert plans[PROD].regions == ("eu-west-1", "us-east-1")
    assert plans[PROD].scanned_regions == ("eu-west-1", "us-east-1")
    assert plans[TOOLING].regions == ("eu-west-1",)


def _ecr():
    client = boto3.client("ecr", region_name="eu-west-1")
    return client, Stubber(client)


def _scanning(scan_type: str, *rules: dict) -> dict:
    return {"registryId": DEV, "scanningConfiguration": {"scanType": scan_type, "rules": list(rules)}}


def test_scanning_is_merged_into_the_registrys_rules_keeping_their_scan_type() -> None:
    """PutRegistryScanningConfiguration takes the whole configuration, scan type and rules (at most two:
    https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutRegistryScanningConfiguration.html): an existing
    rule and the scan type stay."""
    theirs = {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "shop-*", "filterType": "WILDCARD"}]}
    client, stubber = _ecr()
    stubber.add_response("get_registry_scanning_configuration", _scanning("ENHANCED", theirs), {})
    merged = {**theirs, "repositoryFilters": [*theirs["repositoryFilters"], ASSET_FILTER]}
    stubber.add_response("put_registry_scanning_configuration", {}, {"scanType": "ENHANCED", "rules": [merged]})
    with stubber:
        assert merge_scanning(client, REPOSITORY) is True
    stubber.assert_no_pending_responses()


def test_two_rules_that_do_not_scan_our_repository_are_one_line_not_a_third_rule() -> None:
    manual = {"scanFrequency": "MANUAL", "repositoryFilters": [{"filter": "a-*", "filterType": "WILDCARD"}]}
    continuous = {
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "b-*", "filterType": "WILDCARD"}],
    }
    client, stubber = _ecr()
    stubber.add_response("get_registry_scanning_configuration", _scanning("ENHANCED", manual, continuous), {})
    with stubber, pytest.raises(BootstrapError, match="add the filter cdk-hnb659fds-container-assets-"):
        merge_scanning(client, REPOSITORY)


BOOTSTRAP_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "LambdaECRImageRetrievalPolicy",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    ],
}


def test_the_gate_statement_is_merged_into_the_bootstrap_repositorys_policy_once() -> None:
    """Another account reads the repository only if its policy admits it
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html): the bootstrap stack's
    own statements stay, ours is added by its Sid, and the second run finds it and changes nothing."""
    statement = gate_statement(TOOLING, "aws")
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{TOOLING}:root"}
    assert statement["Condition"]["ArnLike"]["aws:PrincipalArn"].endswith(":role/DownloadServicePipeline-*")
    merged = {**BOOTSTRAP_POLICY, "Statement": [*BOOTSTRAP_POLICY["Statement"], statement]}
    client, stubber = _ecr()
    request = {"repositoryName": REPOSITORY}
    stubber.add_response("get_repository_policy", {"policyText": json.dumps(BOOTSTRAP_POLICY)}, request)
    stubber.add_response("set_repository_policy", {}, {**request, "policyText": json.dumps(merged)})
    stubber.add_response("get_repository_policy", {"policyText": json.dumps(merged, indent=2)}, request)
    with stubber:
        assert merge_repository_policy(client, REPOSITORY, statement) is True
        assert merge_repository_policy(client, REPOSITORY, statement) is False
    stubber.assert_no_pending_responses()
