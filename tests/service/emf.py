"""A checker for CloudWatch's embedded metric format specification (the structure CloudWatch Logs requires before
it extracts anything), written from the spec, not from the service's code: both the unit tests of the document
and the integration test of the real master's stdout run every line through it.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import numbers

#: CloudWatch's StandardUnit values.
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
    "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}  # fmt: skip
MAX_METRICS, MAX_DIMENSIONS, MAX_VALUES = 100, 30, 100


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_emf_line(line: str) -> dict:
    """Parse one log line and assert it is a valid EMF document; returns it."""
    document = json.loads(line)  # the whole line: no text before or after the object
    assert isinstance(document, dict)
    meta = document["_aws"]
    assert set(meta) <= {"Timestamp", "CloudWatchMetrics"}, meta.keys()  # no other members in spec objects
    assert isinstance(meta["Timestamp"], int)
    assert meta["Timestamp"] > 10**12
    directives = meta["CloudWatchMetrics"]
    assert isinstance(directives, list)
    assert directives
    for directive in directives:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}, directive.keys()
        namespace = directive["Namespace"]
        assert isinstance(namespace, str)
        assert 1 <= len(namespace) <= 255
        assert namespace.strip()
        assert not namespace.startswith("AWS/")
        assert isinstance(directive["Dimensions"], list)
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list)
            assert len(dimension_set) <= MAX_DIMENSIONS
            for key in dimension_set:  # each names a root member holding a string
                assert isinstance(document[key], str), key
                assert document[key], key
        metrics = directive["Metrics"]
        assert isinstance(metrics, list)
        assert 1 <= len(metrics) <= MAX_METRICS
        for metric in metrics:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}, metric.keys()
            name = metric["Name"]
            assert isinstance(name, str)
            assert 1 <= len(name) <= 255
            assert metric.get("Unit", "None") in UNITS
            assert metric.get("StorageResolution", 60) in (1, 60)
            value = document[name]  # a number, or an array of at most 100 numbers
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= MAX_VALUES, (name, value)
            assert all(map(_number, values)), (name, value)
    return document
