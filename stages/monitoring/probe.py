"""The synthetic probe's alarms: a run that fails is critical, a probe that does not run is a warning of its own.

Missing data never reads as failure (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html:
"breaching - missing data points are treated as bad"). A stage's probe has no data before its first run, minutes
after the stage is created, and the stage's Critical composite is what the pipeline's entry condition reads: a fresh,
healthy stage must not be in ALARM. So the success alarm treats missing data as not breaching, and "the probe has
not run" is `Probe-Silent-Warning`, outside the Critical composite: a brand-new stage shows it in ALARM until the
first run (a few minutes), which no gate reads.
"""

from __future__ import annotations

from cdk_monitoring_constructs import CustomMetricGroup, CustomMetricWithAlarm, CustomThreshold

from ..probe import Probe
from .metrics import Missing, Op

#: Probe intervals in a row without a single run before the probe counts as silent.
SILENT_PERIODS = 3


def probe_runs(probe: Probe) -> CustomMetricGroup:
    """The probe's success rate (critical below 100 % in 2 of 3 of its intervals) and its runs (a warning when
    there were none for SILENT_PERIODS intervals)."""
    period, canary = probe.every, probe.canary
    return CustomMetricGroup(
        title="Probe runs that passed",
        metrics=[
            CustomMetricWithAlarm(
                alarm_friendly_name="Success",
                metric=canary.metric_success_percent(period=period, statistic="Average"),
                add_alarm={
                    "Critical": CustomThreshold(
                        threshold=100,
                        comparison_operator=Op.LESS_THAN_THRESHOLD,
                        evaluation_periods=3,
                        datapoints_to_alarm=2,
                        treat_missing_data_override=Missing.NOT_BREACHING,
                        additional_description="The public URL failed /health or the canary object",
                    )
                },
            ),
            CustomMetricWithAlarm(
                alarm_friendly_name="Silent",
                metric=canary.metric_success_percent(period=period, statistic="SampleCount", label="Runs"),
                add_alarm={
                    "Warning": CustomThreshold(
                        threshold=1,
                        comparison_operator=Op.LESS_THAN_THRESHOLD,
                        evaluation_periods=SILENT_PERIODS,
                        datapoints_to_alarm=SILENT_PERIODS,
                        # No run at all is exactly what this alarm is for.
                        treat_missing_data_override=Missing.BREACHING,
                        additional_description=f"No probe run for {SILENT_PERIODS} of its intervals: nothing "
                        "watches the public URL",
                    )
                },
            ),
        ],
    )
