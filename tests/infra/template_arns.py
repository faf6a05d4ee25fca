"""Concrete ARNs for a synthesized template, as CloudFormation would name things once deployed: enough to turn the
policies in a template into requests the policy evaluator can judge (`policy_eval.Request`).

Physical names follow CloudFormation's generated-name pattern `<stack name>-<logical id>-<random suffix>` (lower
case for buckets, whose names must be), unless the template names the resource itself; the suffix is a fixed fake.
Only the intrinsics the stage templates use in IAM-relevant places are resolved: Ref, Fn::GetAtt, Fn::Join,
Fn::Sub. Anything else raises, so a test never judges a request built from a value it did not understand.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

SUFFIX = "EXAMPLE0SUFFIX"
_ARN_ATTRIBUTES = {"Arn", "FunctionArn"}


@dataclass(frozen=True)
class StackArns:
    name: str
    account: str
    region: str
    template: dict[str, Any]
    partition: str = "aws"

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:"
            f"{resource}"
        )

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        for key in ("RoleName", "FunctionName", "LogGroupName", "BucketName", "TopicName", "Name", "ClusterName"):
            if isinstance(props.get(key), str):
                return props[key]
        generated = f"{self.name}-{logical_id}"[: 64 - len(SUFFIX) - 1] + f"-{SUFFIX}"
        return generated.lower() if resource["Type"] == "AWS::S3::Bucket" else generated

    def tags(self, logical_id: str) -> dict[str, str]:
        """The resource's tags as the template sets them (CDK renders them as a Key/Value list)."""
        tags = self.resources[logical_id].get("Properties", {}).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else {}

    def ref(self, logical_id: str) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.name,
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        kind, name = self.resources[logical_id]["Type"], self.physical_name(logical_id)
        elb = f"app/{self.name[:6]}-{logical_id[:5]}-{SUFFIX}/0123456789abcdef"
        return {
            "AWS::SNS::Topic": self.arn("sns", name),
            "AWS::ElasticLoadBalancingV2::LoadBalancer": self.arn("elasticloadbalancing", f"loadbalancer/{elb}"),
            "AWS::ElasticLoadBalancingV2::Listener": self.arn("elasticloadbalancing", f"listener/{elb}/{SUFFIX}"),
            "AWS::ElasticLoadBalancingV2::ListenerRule": self.arn(
                "elasticloadbalancing", f"listener-rule/{elb}/{SUFFIX}/{logical_id[-8:]}"
            ),
            "AWS::ElasticLoadBalancingV2::TargetGroup": self.arn(
                "elasticloadbalancing", f"targetgroup/{name[:32]}/0a1b"
            ),
            "AWS::EC2::SecurityGroup": "sg-0example",
            "AWS::EC2::VPC": "vpc-0example",
        }.get(kind, name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind, name = self.resources[logical_id]["Type"], self.physical_name(logical_id)
        if attribute in _ARN_ATTRIBUTES:
            arns = {
                "AWS::IAM::Role": self.arn("iam", f"role/{name}", region=False),
                "AWS::Lambda::Function": self.arn("lambda", f"function:{name}"),
                "AWS::Logs::LogGroup": self.arn("logs", f"log-group:{name}:*"),
                "AWS::S3::Bucket": self.arn("s3", name, region=False, account=False),
                "AWS::KMS::Key": self.arn("kms", f"key/{SUFFIX.lower()}"),
                "AWS::CodeBuild::Project": self.arn("codebuild", f"project/{name}"),
            }
            if kind in arns:
                return arns[kind]
        if kind == "AWS::EC2::VPC" and attribute == "DefaultSecurityGroup":
            return "sg-0default"
        if kind == "AWS::ElasticLoadBalancingV2::LoadBalancer" and attribute == "DNSName":
            return f"{name[:20]}.{self.region}.elb.amazonaws.com"
        raise ValueError(f"{self.name}: no fake value for {logical_id}.{attribute} ({kind})")

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic replaced by the string CloudFormation would put there."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {k: self.resolve(v) for k, v in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(logical_id, attribute)
        if function == "Fn::Join":
            delimiter, parts = argument
            return delimiter.join(str(self.resolve(p)) for p in parts)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), variables), text)
        raise ValueError(f"{self.name}: {function} is not resolved here")

    def _sub(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(self.resolve(variables[name]))
        if "." in name:
            return self.get_att(*name.split(".", 1))
        return self.ref(name)

    def logical_id_of(self, resolved: str) -> str | None:
        """The template resource a resolved ARN (or name) stands for, if any: where its tags come from."""
        for logical_id, resource in self.resources.items():
            if resource["Type"].startswith("Custom::") or resource["Type"] == "AWS::CDK::Metadata":
                continue
            candidates = {self.ref(logical_id)}
            with contextlib.suppress(ValueError):  # not every type has an Arn attribute
                candidates.add(self.get_att(logical_id, "Arn"))
            if any(resolved == c or resolved.startswith(c.removesuffix("*") + "/") for c in candidates):
                return logical_id
        return None
