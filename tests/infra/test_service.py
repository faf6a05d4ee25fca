"""Service construct: cluster, hardened task definition, exact task role, deployment and scaling."""

from __future__ import annotations

from aws_cdk.assertions import Template

from download_service import contract
from stages.monitoring.segments import SATURATED_PERCENT
from stages.service import SLOT_UTILIZATION_TARGET

from .conftest import Synth, only
from .test_network import group_id

BUCKET = "download-service-prod-files-123456789012-eu-west-1"


def _container(template: Template) -> dict:
    task = only(template.find_resources("AWS::ECS::TaskDefinition"))["Properties"]
    return only({c["Name"]: c for c in task["ContainerDefinitions"]})


def test_task_definition_size_and_platform(synth: Synth, prod_stateless: Template) -> None:
    config = synth.built.config.stages["prod"]
    task = only(prod_stateless.find_resources("AWS::ECS::TaskDefinition"))["Properties"]
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["NetworkMode"] == "awsvpc"
    assert task["Cpu"] == str(config.tasks.cpu)
    assert task["Memory"] == str(config.tasks.memory_mib)
    assert task["Volumes"] == [{"Name": "tmp"}]


def test_container_is_read_only_non_root_with_a_writable_tmp(prod_stateless: Template) -> None:
    container = _container(prod_stateless)
    assert container["ReadonlyRootFilesystem"] is True
    uid, _, gid = container["User"].partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert gid.isdigit()
    assert int(gid) != 0
    assert container["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}]


def test_container_timing_and_port_follow_the_contract(prod_stateless: Template) -> None:
    container = _container(prod_stateless)
    assert container["StopTimeout"] == contract.ECS_STOP_TIMEOUT_S
    assert contract.GRACEFUL_TIMEOUT_S < contract.ECS_STOP_TIMEOUT_S
    assert container["PortMappings"] == [{"ContainerPort": contract.PORT, "Protocol": "tcp"}]


def test_container_environment(prod_stateless: Template) -> None:
    env = {item["Name"]: item["Value"] for item in _container(prod_stateless)["Environment"]}
    assert env["FILES_BUCKET"] == BUCKET
    assert env["FILES_PREFIX"] == ""
    assert env["FORWARDED_ALLOW_IPS"] == "*"
    assert env["LOG_LEVEL"] == "info"
    assert len(env["APP_VERSION"]) == 12
    # The embedded slot metrics land in the stage's namespace, beside its log metrics.
    assert env["METRICS_NAMESPACE"] == "download-service/prod"
    # Production serves HTTPS to its load balancer (edge.tls_to_tasks defaults on there).
    assert env["TLS"] == "self-signed"
    assert not [name for name in env if "SECRET" in name or "KEY" in name]


def test_dev_tasks_serve_plain_http(synth: Synth) -> None:
    env = {item["Name"]: item["Value"] for item in _container(synth.template("dev", "stateless"))["Environment"]}
    assert "TLS" not in env
    assert env["METRICS_NAMESPACE"] == "download-service/dev"


def test_container_logs_to_a_log_group_with_the_configured_retention(synth: Synth, prod_stateless: Template) -> None:
    options = _container(prod_stateless)["LogConfiguration"]
    assert options["LogDriver"] == "awslogs"
    assert options["Options"]["mode"] == "non-blocking"
    group = prod_stateless.to_json()["Resources"][options["Options"]["awslogs-group"]["Ref"]]
    assert group["Properties"]["RetentionInDays"] == synth.built.config.stages["prod"].logs.retention_days


def test_image_is_the_repository_dockerfile(synth: Synth) -> None:
    asset = synth.built.stages["prod"].stateless.service.image_asset
    staged = synth.outdir / f"asset.{asset.asset_hash}"
    assert (staged / "Dockerfile").is_file()
    # .dockerignore allowlists the build context: no venv, node_modules, cdk.out, .git or tests are hashed.
    for excluded in (".venv", "node_modules", "cdk.out", ".git", "tests"):
        assert not (staged / excluded).exists(), excluded


def test_task_role_policy_is_exactly_read_the_prefix_and_list_the_bucket(prod_stateless: Template) -> None:
    task = only(prod_stateless.find_resources("AWS::ECS::TaskDefinition"))["Properties"]
    task_role = task["TaskRoleArn"]["Fn::GetAtt"][0]
    role = prod_stateless.to_json()["Resources"][task_role]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    policies = prod_stateless.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": task_role}]}})
    (endpoint,) = prod_stateless.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}})
    # Only through this stage's S3 gateway endpoint: the credentials of a task are useless anywhere else.
    through = {"StringEquals": {"aws:SourceVpce": {"Ref": endpoint}}}
    assert only(policies)["Properties"]["PolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadFiles",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": through,
            },
            {
                "Sid": "ListFiles",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{BUCKET}",
                "Condition": through,
            },
        ],
    }


def test_execution_role_pulls_the_asset_image_and_writes_its_log_group_only(prod_stateless: Template) -> None:
    """The IAM5[Resource::*] acknowledgement on this policy is for ecr:GetAuthorizationToken alone: anything else on
    * (or any other repository or log group) must fail here rather than hide behind it."""
    task = only(prod_stateless.find_resources("AWS::ECS::TaskDefinition"))["Properties"]
    role_id = task["ExecutionRoleArn"]["Fn::GetAtt"][0]
    policies = prod_stateless.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    statements = only(policies)["Properties"]["PolicyDocument"]["Statement"]
    (container,) = task["ContainerDefinitions"]
    log_group = container["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]
    repository = "arn:aws:ecr:eu-west-1:123456789012:repository/cdk-hnb659fds-container-assets-123456789012-eu-west-1"
    assert statements == [
        {
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Effect": "Allow",
            "Resource": repository,
        },
        {"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"},
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
        },
    ]


def test_task_role_honours_a_key_prefix(synth: Synth) -> None:
    from .conftest import cdk_json_context, synthesize

    context = cdk_json_context()
    context["download-service"]["stages"] = {"dev": {"files_prefix": "public/"}}
    del context["download-service"]["pipeline"]  # it deploys prod, which this context no longer has
    other = synthesize(synth.outdir.parent / "prefixed", context)
    template = other.template("dev", "stateless")
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Sid": "ReadFiles",
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::download-service-dev-files-123456789012-eu-west-1/public/*",
                    },
                    {
                        "Sid": "ListFiles",
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": "arn:aws:s3:::download-service-dev-files-123456789012-eu-west-1",
                    },
                ]
            }
        },
    )


def test_service_runs_in_isolated_subnets_without_public_ip(prod_stateless: Template) -> None:
    service = only(prod_stateless.find_resources("AWS::ECS::Service"))["Properties"]
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert all("Tasks" in subnet["Ref"] for subnet in network["Subnets"])
    assert network["SecurityGroups"] == [{"Fn::GetAtt": [group_id(prod_stateless, "Service tasks"), "GroupId"]}]
    assert service["LaunchType"] == "FARGATE"
    assert service["EnableExecuteCommand"] is False


def test_service_leaves_the_task_count_to_autoscaling(prod_stateless: Template) -> None:
    service = only(prod_stateless.find_resources("AWS::ECS::Service"))["Properties"]
    # How it releases (canary, hook, alarms) is tests/infra/test_release.py's.
    assert service.get("DeploymentController", {"Type": "ECS"}) == {"Type": "ECS"}  # ECS-native deployments
    # Autoscaling owns the task count: a desired count in the template would reset it on every deploy.
    assert "DesiredCount" not in service
    assert service["LoadBalancers"][0]["ContainerPort"] == contract.PORT


def test_cluster_has_container_insights(prod_stateless: Template) -> None:
    cluster = only(prod_stateless.find_resources("AWS::ECS::Cluster"))["Properties"]
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]


def test_autoscaling_min_max_and_cpu(synth: Synth, prod_stateless: Template) -> None:
    config = synth.built.config.stages["prod"]
    target = only(prod_stateless.find_resources("AWS::ApplicationAutoScaling::ScalableTarget"))["Properties"]
    assert target["MinCapacity"] == config.tasks.min_tasks >= 2
    assert target["MaxCapacity"] == config.tasks.max_tasks
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    policies = [
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for p in prod_stateless.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    ]
    (cpu,) = [p for p in policies if "PredefinedMetricSpecification" in p]
    assert cpu["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    assert cpu["TargetValue"] == 50
    # Requests, summed over both target groups: tests/infra/test_release.py.
    custom = {
        p["CustomizedMetricSpecification"].get("MetricName", "requests"): p
        for p in policies
        if "CustomizedMetricSpecification" in p
    }
    assert set(custom) == {"requests", contract.SlotMetric.UTILIZATION}
    assert custom["requests"]["TargetValue"] == config.tasks.requests_per_target
    # Slow downloads hold slots at low CPU and few requests: the slots the service reports scale too.
    slots = custom[contract.SlotMetric.UTILIZATION]
    assert slots["TargetValue"] == SLOT_UTILIZATION_TARGET < SATURATED_PERCENT
    assert slots["CustomizedMetricSpecification"] == {
        "Namespace": "download-service/prod",
        "MetricName": contract.SlotMetric.UTILIZATION,
        "Dimensions": [{"Name": k, "Value": v} for k, v in contract.SLOT_DIMENSIONS.items()],
        "Statistic": "Average",
    }


def test_task_security_group_admits_only_the_load_balancer_on_the_service_port(prod_stateless: Template) -> None:
    task_sg = group_id(prod_stateless, "Service tasks")
    alb_sg = group_id(prod_stateless, "Load balancer")
    assert "SecurityGroupIngress" not in prod_stateless.to_json()["Resources"][task_sg]["Properties"]
    ingress = prod_stateless.find_resources(
        "AWS::EC2::SecurityGroupIngress", {"Properties": {"GroupId": {"Fn::GetAtt": [task_sg, "GroupId"]}}}
    )
    rules = [(r["Properties"]["SourceSecurityGroupId"], r["Properties"]["FromPort"], r["Properties"]["ToPort"])
             for r in ingress.values()]  # fmt: skip
    assert rules == [({"Fn::GetAtt": [alb_sg, "GroupId"]}, contract.PORT, contract.PORT)]


def test_task_egress_is_https_only(prod_stateless: Template) -> None:
    task_sg = group_id(prod_stateless, "Service tasks")
    inline = prod_stateless.to_json()["Resources"][task_sg]["Properties"]["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in inline] == [("tcp", 443, 443)]
    extra = prod_stateless.find_resources(
        "AWS::EC2::SecurityGroupEgress", {"Properties": {"GroupId": {"Fn::GetAtt": [task_sg, "GroupId"]}}}
    )
    assert [(r["Properties"]["FromPort"], r["Properties"]["ToPort"]) for r in extra.values()] == [(443, 443)]
