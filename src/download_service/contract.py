"""The service's contract with the platform that runs it.

Both the gunicorn config and the CDK stages import these numbers, so the ALB, the ECS task definition and the
server can never disagree. Plain constants only: this module is imported at synth time.
"""

SERVICE_NAME = "download-service"

#: Port gunicorn binds inside the container and the ALB target group forwards to.
PORT = 8080

#: Liveness path for the ALB health check; never touches S3.
HEALTH_PATH = "/health"

#: Download route prefix.
FILES_PATH = "/files/"

#: ALB idle timeout. gunicorn's keep-alive must outlive it, or the ALB reuses a connection gunicorn has just
#: closed and the client gets a 502.
ALB_IDLE_TIMEOUT_S = 60
KEEPALIVE_S = ALB_IDLE_TIMEOUT_S + 15

#: Seconds gunicorn lets in-flight requests finish after SIGTERM. ECS must wait longer before SIGKILL.
GRACEFUL_TIMEOUT_S = 25
ECS_STOP_TIMEOUT_S = GRACEFUL_TIMEOUT_S + 5

#: How long the ALB keeps sending a deregistering target its in-flight requests. ECS sends SIGTERM only after
#: this, so it bounds how long a deployment waits per task; downloads longer than that are cut by design and
#: clients resume with Range.
DEREGISTRATION_DELAY_S = 30

#: Seconds a client is told to wait after a 503 (S3 throttling/unavailable, or the worker is saturated).
RETRY_AFTER_S = 2
