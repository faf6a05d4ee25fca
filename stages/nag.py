"""cdk-nag wiring: the rule pack every app runs, and a one-line way to acknowledge a finding where it occurs."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stage, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: Stage) -> None:
    """Run AwsSolutions over every stack of `app` and its nested stages; unacknowledged findings fail synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


#: Context switch for tests only: `false` records no acknowledgement, so a test can prove that every
#: acknowledgement answers a finding that really occurs (none is stale or broader than needed).
ACKNOWLEDGE_CONTEXT_KEY = "download-service:nag-acknowledgements"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding (e.g. ``AwsSolutions-IAM5[Resource::*]``) on the construct it is reported on."""
    if construct.node.try_get_context(ACKNOWLEDGE_CONTEXT_KEY) is False:
        return
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
