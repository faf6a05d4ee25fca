"""CodePipeline V2 stage conditions on the built pipeline's L1 (CDK Pipelines has no property for them).

A production stage (every stage after the first):
- BeforeEntry: one CloudWatchAlarm rule per stage alarm it may read (the previous stage's and its own composite
  `<service>-<stage>-Critical`): while any is in ALARM the stage does not start (result FAIL).
- OnFailure: ROLLBACK: a failed stage is re-run with the artifacts of its last successful execution.

Rollback and self-mutation: CodePipeline rolls a stage back to an earlier execution's artifacts inside the current
pipeline structure, so the target execution must have run this same stage (same actions). A commit that changes the
stage's actions (a new stack, a renamed step) is only rolled back to executions after it; before that, roll back
with `git revert` (docs/operations.md).
"""

from __future__ import annotations

from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam

from stages.config import StageConfig
from stages.monitoring import critical_alarm_name


def alarm_rule(stage: StageConfig) -> dict:
    """The CloudWatchAlarm rule that fails while `stage`'s critical composite alarm is in ALARM."""
    return {
        "Name": f"{stage.construct_id}NotCritical",
        "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"},
        "Configuration": {"AlarmName": critical_alarm_name(stage.name)},
        "Region": stage.region,
    }


def gate(pipeline: codepipeline.Pipeline, stage: StageConfig, watched: list[StageConfig]) -> None:
    """BeforeEntry on `stage` over the critical alarms of `watched`, and OnFailure ROLLBACK."""
    stack = Stack.of(pipeline)
    readable = [s for s in watched if s.account == stack.account]
    for other in watched:
        if other not in readable:
            Annotations.of(stack).add_warning_v2(
                "download-service:gate-unchecked",
                f"Stage {stage.name!r}: the pipeline cannot read {other.name!r}'s alarms (account {other.account}), "
                "so its entry condition does not check them; check them before approving.",
            )
    cfn = pipeline.node.default_child
    stages = stack.resolve(cfn.stages)
    index = next(i for i, declared in enumerate(stages) if declared["name"] == stage.construct_id)
    if readable:
        cfn.add_property_override(
            f"Stages.{index}.BeforeEntry",
            {"Conditions": [{"Result": "FAIL", "Rules": [alarm_rule(s) for s in readable]}]},
        )
        pipeline.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"Read{stage.construct_id}EntryAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        region=s.region,
                        resource="alarm",
                        resource_name=critical_alarm_name(s.name),
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for s in readable
                ],
            )
        )
    cfn.add_property_override(f"Stages.{index}.OnFailure", {"Result": "ROLLBACK"})
