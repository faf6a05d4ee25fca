"""The service's contract with the platform that runs it.

Both the gunicorn config and the CDK stages import these numbers and names, so the ALB, the ECS task definition,
the log metric filters and the server can never disagree. Plain constants only: this module is imported at synth
time.
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

#: Seconds a client is told to wait (Retry-After) after a 503 (S3 throttling/unavailable, the worker is saturated) or
#: a 429 (the client already holds its share of download slots).
RETRY_AFTER_S = 2

#: Default seconds a download may make no progress (the client's TCP acknowledges no byte while the server has data
#: to send) before it is closed and its slot freed (STALL_TIMEOUT_S). Below ALB_IDLE_TIMEOUT_S, so the task frees
#: a stalled slot before the load balancer's own idle timer would end the connection.
STALL_TIMEOUT_S = 30

#: Default floor of a download's transfer rate (MIN_RATE_BYTES_S; 0: none) and the window it is judged over
#: (MIN_RATE_WINDOW_S): a stream whose client acknowledged less than MIN_RATE_BYTES_S x MIN_RATE_WINDOW_S bytes in
#: MIN_RATE_WINDOW_S seconds of waiting on it is closed and its slot freed (watchdog.py). 8 KiB/s is an eighth of the
#: 64 KiB/s a steady reader is guaranteed, and eight times the 1 KiB/s of a client taking 2 KiB every 2 s; 30 s (the
#: stall deadline) averages over TCP's acknowledgements, which a 64 KiB/s reader sends about once a second.
MIN_RATE_BYTES_S = 8 * 1024
MIN_RATE_WINDOW_S = 30
#: The rate a steady reader is guaranteed never to be cut at: MIN_RATE_BYTES_S may be at most half of it.
STEADY_READER_BYTES_S = 64 * 1024

#: Default concurrent downloads (and HEADs) one client may hold in a task (MAX_STREAMS_PER_CLIENT). The client is
#: what CLIENT_IP_HEADER names (peers.py); all of a task's workers count together.
MAX_STREAMS_PER_CLIENT = 8

#: CLIENT_IP_HEADER, the header that names the client when the peer is a trusted proxy (FORWARDED_ALLOW_IPS):
#: X-Forwarded-For's last entry (the default: the peer the ALB saw), or, behind CloudFront, CloudFront-Viewer-Address,
#: the viewer's address and source port, which CloudFront sends when the origin request policy lists it
#: (cache_policy.ORIGIN_REQUEST_HEADERS). Behind a VPC origin, X-Forwarded-For's last entry is CloudFront's own
#: private address, the same for many viewers.
FORWARDED_FOR_HEADER = "X-Forwarded-For"
VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"
CLIENT_IP_HEADERS = (FORWARDED_FOR_HEADER, VIEWER_ADDRESS_HEADER)

#: TLS=self-signed: gunicorn serves HTTPS on PORT with a key and certificate generated at start into tmpfs (the ALB
#: does not validate target certificates). Unset or "off": plain HTTP.
TLS_SELF_SIGNED = "self-signed"


class SlotMetric:
    """CloudWatch embedded-metric-format lines the gunicorn master writes on stdout every METRICS_INTERVAL_S (when
    METRICS_NAMESPACE is set): the task's download slots, summed over its workers. One dimension, SLOT_DIMENSIONS;
    IN_USE and UTILIZATION carry one sample a second (or a second's share of the interval), so a period's Average
    is the mean occupancy and its Maximum the peak."""

    #: Slots taken (downloads and HEADs in progress), unit Count.
    IN_USE = "DownloadSlotsInUse"
    #: Slots the task has (workers x per-worker capacity), unit Count.
    TOTAL = "DownloadSlots"
    #: IN_USE / TOTAL x 100, unit Percent: what scaling tracks and the saturation alarm watches.
    UTILIZATION = "DownloadSlotUtilization"


#: The dimensions of every SlotMetric: constant per service, so a stage's namespace holds one series per metric.
SLOT_DIMENSIONS = {"ServiceName": SERVICE_NAME}
#: Default seconds between two EMF lines (METRICS_INTERVAL_S): CloudWatch's standard one-minute resolution.
METRICS_INTERVAL_S = 60


class Event:
    """The `event` field of the service's JSON log lines. The log metric filters and saved queries select lines by
    these values, so the service (logs.py, download.py, gunicorn.conf.py) and the stages use these names only."""

    #: One per request, on stdout (the access log).
    ACCESS = "access"
    #: gunicorn's lifecycle, master and workers (gunicorn.conf.py).
    STARTING = "starting"
    READY = "ready"
    WORKER_BOOT = "worker_boot"
    SIGTERM = "sigterm"
    WORKER_EXIT = "worker_exit"
    WORKER_INTERRUPTED = "worker_interrupted"
    WORKER_TIMEOUT = "worker_timeout"
    SHUTDOWN = "shutdown"
    #: A failed S3 request, answered with a 5xx.
    S3_ERROR = "s3_error"
    #: A download refused because the worker's download slots are all taken (503). Like CLIENT_LIMIT a refusal the
    #: service chooses, not a server error: its access line carries `refused` with this name.
    BUSY = "busy"
    #: A download refused because its client already holds MAX_STREAMS_PER_CLIENT slots of the task (429).
    CLIENT_LIMIT = "client_limit"
    #: A download closed because its client acknowledged nothing for STALL_TIMEOUT_S (its slot is freed).
    STREAM_STALLED = "stream_stalled"
    #: A download closed because its client acknowledged less than MIN_RATE_BYTES_S on average over a window of
    #: MIN_RATE_WINDOW_S (its slot is freed): STREAM_STALLED's fields plus rate_bytes_s, min_rate_bytes_s and
    #: min_rate_window_s. A name of its own: a trickle is a different finding from a client that went away.
    STREAM_TOO_SLOW = "stream_too_slow"
    #: The gunicorn master's EMF line with the task's download slots (SlotMetric), on stdout.
    SLOT_METRICS = "slot_metrics"
    #: A download S3 broke mid-way: reopened from S3, or given up (the connection is aborted).
    STREAM_RESUME = "stream_resume"
    STREAM_ABORTED = "stream_aborted"
