"""`make bootstrap`: the one-time set-up of every account and region cdk.json deploys to, idempotent.

    python -m devtools.bootstrap [--profile ACCOUNT=PROFILE ...] [--context FILE] [--dry-run]

For each account (plan.py): the guardrail policies created or moved to this checkout's version (policies.py), then in
each region `cdk bootstrap` with them (the execution policies, the execution role's boundary, `--trust` of the
pipeline's account), registry scanning merged into the existing configuration and, where the pipeline reads the
image from another account, the asset repository's policy extended to admit it (registry.py). `--dry-run` prints
every call instead of making it and needs no credentials (aws.py). What stays manual is printed last.
"""
