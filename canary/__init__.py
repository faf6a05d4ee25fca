"""Release checks of the download service, and the object they download.

- `smoke-canary.txt`: the object every stage seeds at `_canary/smoke-canary.txt` under its files prefix
  (stages/canary.py owns its key and SHA-256);
- `checks`: the smoke checks, written once, stdlib only; tests/smoke, the hook and the probe all run these;
- `hook`: the ECS lifecycle hook (POST_TEST_TRAFFIC_SHIFT) that runs them through the guarded test listener;
- `probe`: the CloudWatch Synthetics canary that runs the /health and canary-object checks on a schedule.

Nothing here imports a third-party package at import time (the hook imports boto3 only when it first needs its
client), so the modules run unchanged in AWS Lambda's and CloudWatch Synthetics' Python runtimes.
"""
