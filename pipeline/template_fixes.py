"""Small, exact rewrites of what CDK Pipelines renders, so the pipeline template is cfn-lint clean."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_codepipeline as codepipeline


def join_to_sub(value: Any) -> Any:
    """``Fn::Join ["", [...]]`` of strings, Refs and GetAtts as the equivalent ``Fn::Sub`` string (cfn-lint E3703);
    anything else unchanged."""
    if not (isinstance(value, dict) and list(value) == ["Fn::Join"] and value["Fn::Join"][0] == ""):
        return value
    parts = []
    for part in value["Fn::Join"][1]:
        if isinstance(part, str) and "${" not in part:
            parts.append(part)
        elif isinstance(part, dict) and list(part) == ["Ref"]:
            parts.append(f"${{{part['Ref']}}}")
        elif isinstance(part, dict) and list(part) == ["Fn::GetAtt"]:
            parts.append("${" + ".".join(part["Fn::GetAtt"]) + "}")
        else:
            return value
    return {"Fn::Sub": "".join(parts)}


def sub_for_action_role_arns(pipeline: codepipeline.Pipeline) -> None:
    """CloudFormation actions render their execution RoleArn as an empty-delimiter Fn::Join; use Fn::Sub."""
    cfn = pipeline.node.default_child
    stages = Stack.of(pipeline).resolve(cfn.stages)
    for i, stage in enumerate(stages):
        for j, action in enumerate(stage["actions"]):
            role_arn = (action.get("configuration") or {}).get("RoleArn")
            rewritten = join_to_sub(role_arn)
            if rewritten is not role_arn:
                cfn.add_property_override(f"Stages.{i}.Actions.{j}.Configuration.RoleArn", rewritten)
