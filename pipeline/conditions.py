"""CodePipeline V2 stage conditions on the built pipeline's L1 (CDK Pipelines has no property for them).

Every promoted stage (every stage after the first) is preceded by a pipeline stage of its own that holds only its
manual approval (`approval_stage_name`). The promoted stage has an entry condition and rolls back on failure; the
approval stage has neither:

- BeforeEntry, result FAIL, one CloudWatchAlarm rule on the previous stage's composite `<service>-<stage>-Critical`.
  Entry conditions are checked when an execution enters the stage ("Entry - the conditions for making checks that,
  if met, allow entry to a stage", https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html),
  so it is evaluated after the approval, however long that waited: an alarm that started meanwhile still stops the
  release. The rule reads only an alarm that exists by then: the CloudWatchAlarm rule "must have already created an
  alarm" (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html), and what
  it does without one is not documented. The previous stage's first deploy created it, two pipeline stages earlier.
  The promoted stage's own alarm is never read: it does not exist before that stage's first deploy, and a release
  that fixes what that alarm reports must be able to reach it (the release's own deployment alarms judge it).
  The approval stage has no entry condition: it would be evaluated before the approval, the shape this module
  exists to avoid. Nothing is lost: an approval given while dev is in trouble meets the same rule a moment later,
  and the approval request links the previous stage's alarm (pipeline_stack.py).
- OnFailure ROLLBACK on the promoted stage only: a failed deploy or smoke test re-runs the stage with the artifacts
  of its last successful execution. Never on the approval stage: a rejection fails that stage, and a rollback
  execution would only ask for the approval again. CodePipeline rolls back only to an execution "started in the
  current pipeline structure version", and "only after there is a successful pipeline execution in the pipeline
  stage" (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback-auto.html): the first release of a
  stage, and the first after a commit that changes the pipeline's structure, have nothing to roll back to (roll back
  with `git revert` then; docs/operations.md §2).
"""

from __future__ import annotations

from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam

from stages.config import StageConfig
from stages.monitoring import critical_alarm_name


def approval_stage_name(stage: StageConfig) -> str:
    """The pipeline stage that holds the manual approval before `stage`."""
    return f"Approve{stage.construct_id}"


def alarm_console_url(stage: StageConfig) -> str:
    """Where an approver sees `stage`'s critical alarm."""
    region, name = stage.region, critical_alarm_name(stage.name)
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"


def alarm_rule(stage: StageConfig) -> dict:
    """The CloudWatchAlarm rule that fails while `stage`'s critical composite alarm is in ALARM."""
    return {
        "Name": f"{stage.construct_id}NotCritical",
        "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"},
        "Configuration": {"AlarmName": critical_alarm_name(stage.name)},
        "Region": stage.region,
    }


def gate(pipeline: codepipeline.Pipeline, stage: StageConfig, previous: StageConfig) -> None:
    """BeforeEntry on `stage` over `previous`'s critical alarm, and OnFailure ROLLBACK on `stage`."""
    stack = Stack.of(pipeline)
    cfn = pipeline.node.default_child
    index = [declared["name"] for declared in stack.resolve(cfn.stages)].index(stage.construct_id)
    if previous.account == stack.account:
        cfn.add_property_override(
            f"Stages.{index}.BeforeEntry", {"Conditions": [{"Result": "FAIL", "Rules": [alarm_rule(previous)]}]}
        )
        pipeline.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"Read{stage.construct_id}EntryAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        region=previous.region,
                        resource="alarm",
                        resource_name=critical_alarm_name(previous.name),
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
    else:
        Annotations.of(stack).add_warning_v2(
            "download-service:gate-unchecked",
            f"Stage {stage.name!r}: the pipeline cannot read {previous.name!r}'s alarms (account {previous.account}), "
            "so its entry condition does not check them; check them before approving.",
        )
    cfn.add_property_override(f"Stages.{index}.OnFailure", {"Result": "ROLLBACK"})
