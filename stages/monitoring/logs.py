"""The service's logs as metrics and saved queries.

Every line a task writes is one JSON object (src/download_service/logs.py): access records carry `event: "access"`
and `status`; errors and lifecycle events carry `level`, `event` and, for failures, `exception`. The awslogs driver
ships them unchanged to the service's log group (stages/service.py, retention from cdk.json), so CloudWatch's JSON
filter patterns and Logs Insights see the fields directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from download_service import contract

from ..config import metrics_namespace

P = logs.FilterPattern


E = contract.Event


@dataclass(frozen=True)
class LogMetric:
    name: str
    pattern: logs.IFilterPattern
    description: str
    #: Metric dimension -> JSON selector of the line. A filter with dimensions has no default value (CloudWatch).
    dimensions: dict[str, str] | None = None


def _event(name: str) -> logs.IFilterPattern:
    return P.string_value("$.event", "=", name)


#: Server errors: access lines with a 5xx status the service did not choose. A refusal it chooses (a worker at
#: capacity: 503; a client over its share: 429, never 5xx anyway) carries `refused` (src/download_service/logs.py),
#: so a client asking for more than the service admits raises no error metric and rolls no release back.
_SERVER_5XX = P.all(_event(E.ACCESS), P.number_value("$.status", ">=", 500), P.not_exists("$.refused"))


#: Metric name -> what it counts. tests/integration/test_log_metrics.py runs each pattern over real service lines.
LOG_METRICS = (
    LogMetric(
        "Http5xx",
        # Access records only: the s3_error warning that precedes a 502/503/504 carries `status` too.
        _SERVER_5XX,
        "Server errors: 5xx responses the service did not choose (busy refusals excluded), from the access log",
    ),
    LogMetric(
        "ErrorLogs",
        P.any(P.string_value("$.level", "=", "error"), P.string_value("$.level", "=", "critical")),
        "Log lines at level error or critical (unhandled exceptions, aborted streams, worker timeouts)",
    ),
    LogMetric("Exceptions", P.exists("$.exception"), "Log lines carrying a traceback"),
    # A missing key is S3 answering correctly: a scanner probing /files/ must not look like a storage failure.
    LogMetric(
        "S3Errors",
        P.all(_event(E.S3_ERROR), P.number_value("$.status", ">=", 500)),
        "Failed storage requests (answered 502/503/504)",
    ),
    LogMetric("NotFound", P.all(_event(E.S3_ERROR), P.number_value("$.status", "=", 404)), "Keys S3 does not have"),
    LogMetric("Busy", _event(E.BUSY), "Downloads refused because a worker was at capacity (503)"),
    LogMetric("ClientLimit", _event(E.CLIENT_LIMIT), "Downloads refused because the client held its share (429)"),
    LogMetric("WorkerBoots", _event(E.WORKER_BOOT), "gunicorn workers started or restarted"),
    # Per release (the image hash every access line carries): what the deployment alarm of a progressive release
    # judges, so only the new revision's own answers count (stages/monitoring/deployment.py).
    LogMetric("ReleaseRequests", _event(E.ACCESS), "Requests answered, per release", {"Version": "$.version"}),
    LogMetric("Release5xx", _SERVER_5XX, "Server errors, per release", {"Version": "$.version"}),
)


def _any_event(*names: str) -> str:
    return "event in [" + ", ".join(f'"{name}"' for name in names) + "]"


_WORKER_EVENTS = _any_event(E.WORKER_BOOT, E.WORKER_EXIT, E.WORKER_TIMEOUT, E.WORKER_INTERRUPTED)
_LIFECYCLE_EVENTS = _any_event(E.STARTING, E.READY, E.WORKER_BOOT, E.SIGTERM, E.WORKER_EXIT, E.SHUTDOWN)

#: Saved Logs Insights queries: name (shown under "<service>/<stage>/" in the console) -> logs.QueryString props.
QUERIES: dict[str, dict] = {
    "Top failing paths": {
        "fields": ["path", "status"],
        "filter_statements": [f'event = "{E.ACCESS}" and status >= 400'],
        "stats_statements": ["count(*) as failures by status, path"],
        "sort": "failures desc",
        "limit": 25,
    },
    # duration_ms is gunicorn's request time: until a download's last byte, not its first.
    "Latency percentiles": {
        "filter_statements": [f'event = "{E.ACCESS}"'],
        "stats_statements": [
            "count(*) as requests, pct(duration_ms, 50) as p50_ms, pct(duration_ms, 90) as p90_ms, "
            "pct(duration_ms, 99) as p99_ms, max(duration_ms) as max_ms by bin(5m)"
        ],
    },
    "Worker restarts": {
        "fields": ["@timestamp", "@logStream", "event", "worker_pid", "level", "message"],
        "filter_statements": [_WORKER_EVENTS],
        "sort": "@timestamp desc",
        "limit": 200,
    },
    "Start-up and shutdown timeline": {
        "fields": ["@timestamp", "@logStream", "event", "version", "graceful_timeout_s", "message"],
        "filter_statements": [_LIFECYCLE_EVENTS],
        "sort": "@timestamp asc",
        "limit": 1000,
    },
    "Errors and exceptions": {
        "fields": ["@timestamp", "@logStream", "level", "event", "message", "exception"],
        "filter_statements": ['level in ["error", "critical"] or ispresent(exception)'],
        "sort": "@timestamp desc",
        "limit": 100,
    },
}


class ServiceLogs(Construct):
    """Metric filters (LOG_METRICS, namespace `download-service/<stage>`) and saved queries (QUERIES) on the
    task log group. `metric(name)` returns a filter's metric (Sum) for dashboards and alarms."""

    def __init__(self, scope: Construct, construct_id: str, *, stage_name: str, log_group: logs.ILogGroup) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group
        self.namespace = metrics_namespace(stage_name)
        self.filters: dict[str, logs.MetricFilter] = {}
        for spec in LOG_METRICS:
            self.filters[spec.name] = logs.MetricFilter(
                self,
                spec.name,
                log_group=log_group,
                filter_pattern=spec.pattern,
                metric_namespace=self.namespace,
                metric_name=spec.name,
                metric_value="1",
                # Zero while lines arrive without a match: graphs and alarms see 0, not missing data.
                default_value=None if spec.dimensions else 0,
                dimensions=spec.dimensions,
                unit=cloudwatch.Unit.COUNT,
            )
        self.queries = [
            logs.QueryDefinition(
                self,
                f"Query{index}",
                query_definition_name=f"{contract.SERVICE_NAME}/{stage_name}/{name}",
                query_string=logs.QueryString(**props),
                log_groups=[log_group],
            )
            for index, (name, props) in enumerate(QUERIES.items())
        ]
        self.descriptions = {spec.name: spec.description for spec in LOG_METRICS}

    def metric(self, name: str, label: str | None = None) -> cloudwatch.Metric:
        return self.filters[name].metric(statistic="Sum", label=label or name)
