"""The CloudWatch Synthetics canary (Python runtime, no browser): the /health and canary-object checks against the
production URL on a schedule, so a stage that breaks between releases is noticed without a user.

Environment: PROBE_BASE_URL (the stage's public URL), OBJECT_KEY (after /files/), OBJECT_SHA256.

Guarantees of `handler(event, context)`: it runs every check of PROBE_CHECKS, prints one JSON line with the
results, and returns a short summary when all passed; otherwise (or with a bad configuration) it raises ProbeError
naming the failed checks with their details, which is how Synthetics marks a run failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from canary import checks
from canary.target import ConfigError, target_from_env

#: What a user's download needs. The error paths change only with a release, which the hook and tests/smoke check.
PROBE_CHECKS = ("health", "download", "head", "range")


class ProbeError(Exception):
    """A failed probe run; the message names each failed check and what it found."""


def handler(event: object, context: object, environ: Mapping[str, str] | None = None) -> str:
    try:
        target = target_from_env("PROBE_BASE_URL", environ)
    except ConfigError as err:
        raise ProbeError(f"probe configuration: {err}") from None
    results = checks.run_target(target, PROBE_CHECKS)
    failed = [result for result in results if not result.ok]
    print(
        json.dumps(
            {
                "event": "probe",
                "passed_checks": [result.name for result in results if result.ok],
                "failed_checks": [{"name": result.name, "detail": result.detail} for result in failed],
            }
        ),
        flush=True,
    )
    if failed:
        raise ProbeError("failed checks: " + "; ".join(f"{result.name} ({result.detail})" for result in failed))
    return f"{len(results)} checks passed: {', '.join(PROBE_CHECKS)}"
