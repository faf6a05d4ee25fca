"""Network construct: NAT-less VPC, flow logs, VPC endpoints and their policies/security groups."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from .conftest import only

BUCKET = "arn:aws:s3:::download-service-prod-files-123456789012-eu-west-1"


def test_no_nat_gateway_and_two_azs(prod_stateless: Template) -> None:
    prod_stateless.resource_count_is("AWS::EC2::NatGateway", 0)
    prod_stateless.resource_count_is("AWS::EC2::VPC", 1)
    subnets = prod_stateless.find_resources("AWS::EC2::Subnet")
    assert len(subnets) == 4
    # The account's first two AZs, resolved by CloudFormation: no AZ lookup at synth, no hard-coded names.
    azs = [s["Properties"]["AvailabilityZone"] for s in subnets.values()]
    assert sorted(json.dumps(az) for az in azs) == sorted(
        json.dumps({"Fn::Select": [index, {"Fn::GetAZs": ""}]}) for index in (0, 0, 1, 1)
    )


def test_task_subnets_have_no_route_to_the_internet(prod_stateless: Template) -> None:
    routes = prod_stateless.find_resources("AWS::EC2::Route")
    # Only the two public route tables route 0.0.0.0/0, to the internet gateway.
    assert len(routes) == 2
    for route in routes.values():
        assert route["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
        assert "GatewayId" in route["Properties"]
        assert "Public" in route["Properties"]["RouteTableId"]["Ref"]


def test_default_security_group_is_stripped_of_every_rule(prod_stateless: Template) -> None:
    # Nothing uses the default SG, but it allows all traffic between its members: anything launched into the VPC
    # without an explicit SG would get it (Security Hub EC2.2). CDK's custom resource revokes its rules.
    restrict = only(prod_stateless.find_resources("Custom::VpcRestrictDefaultSG"))["Properties"]
    (vpc,) = prod_stateless.find_resources("AWS::EC2::VPC")
    assert restrict["DefaultSecurityGroupId"] == {"Fn::GetAtt": [vpc, "DefaultSecurityGroup"]}
    # and the function doing it may change that one group only
    roles = prod_stateless.find_resources("AWS::IAM::Role")
    role = only({k: v for k, v in roles.items() if k.startswith("CustomVpcRestrictDefaultSG")})["Properties"]
    (policy,) = role["Policies"]
    statement = policy["PolicyDocument"]["Statement"]
    resources = json.dumps([r for st in statement for r in st["Resource"]])
    assert "security-group/" in resources
    assert "DefaultSecurityGroup" in resources
    assert '"*"' not in resources


def test_flow_logs_capture_all_traffic_into_a_retained_log_group(prod_stateless: Template) -> None:
    flow_log = only(prod_stateless.find_resources("AWS::EC2::FlowLog"))["Properties"]
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["ResourceType"] == "VPC"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    group_id = flow_log["LogGroupName"]["Ref"]
    group = prod_stateless.to_json()["Resources"][group_id]
    assert group["Properties"]["RetentionInDays"] == 365
    assert group["DeletionPolicy"] == "Retain"


def test_interface_endpoints_are_exactly_ecr_api_ecr_dkr_and_logs(prod_stateless: Template) -> None:
    endpoints = prod_stateless.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
    names = sorted(e["Properties"]["ServiceName"] for e in endpoints.values())
    assert names == [
        "com.amazonaws.eu-west-1.ecr.api",
        "com.amazonaws.eu-west-1.ecr.dkr",
        "com.amazonaws.eu-west-1.logs",
    ]
    for endpoint in endpoints.values():
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True
        assert len(endpoint["Properties"]["SubnetIds"]) == 2
        assert all("Tasks" in subnet["Ref"] for subnet in endpoint["Properties"]["SubnetIds"])


def test_s3_gateway_endpoint_policy_allows_only_the_files_and_ecr_layer_buckets(prod_stateless: Template) -> None:
    gateway = only(
        prod_stateless.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}})
    )
    assert gateway["Properties"]["ServiceName"] == {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
    assert all("Tasks" in table["Ref"] for table in gateway["Properties"]["RouteTableIds"])
    assert gateway["Properties"]["PolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EcrImageLayers",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*",
            },
            {
                "Sid": "FilesBucketRead",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [BUCKET, f"{BUCKET}/*"],
            },
        ],
    }


def group_id(template: Template, description_start: str) -> str:
    """Logical id of the one security group whose description starts with `description_start`."""
    groups = template.find_resources("AWS::EC2::SecurityGroup")
    matching = [k for k, v in groups.items() if v["Properties"]["GroupDescription"].startswith(description_start)]
    assert len(matching) == 1, matching
    return matching[0]


def test_endpoints_accept_https_from_the_task_security_group_only(prod_stateless: Template) -> None:
    endpoint_sg = group_id(prod_stateless, "VPC interface endpoints")
    task_sg = group_id(prod_stateless, "Service tasks")
    group = prod_stateless.to_json()["Resources"][endpoint_sg]["Properties"]
    assert "SecurityGroupIngress" not in group
    ingress = prod_stateless.find_resources(
        "AWS::EC2::SecurityGroupIngress", {"Properties": {"GroupId": {"Fn::GetAtt": [endpoint_sg, "GroupId"]}}}
    )
    assert [rule["Properties"] for rule in ingress.values()] == [
        {
            "Description": "HTTPS from the service tasks",
            "FromPort": 443,
            "ToPort": 443,
            "IpProtocol": "tcp",
            "GroupId": {"Fn::GetAtt": [endpoint_sg, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [task_sg, "GroupId"]},
        }
    ]
    # No egress from the endpoints: CDK's placeholder rule matches no traffic.
    assert [rule["CidrIp"] for rule in group["SecurityGroupEgress"]] == ["255.255.255.255/32"]
