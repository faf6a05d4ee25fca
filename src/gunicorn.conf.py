"""gunicorn settings: the single source for `make serve`, the container image and the tests.

Run as `gunicorn --config src/gunicorn.conf.py` from any directory; everything else comes from environment
variables validated by download_service.settings (a bad value stops start-up with one line on stderr).
"""

import functools
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gunicorn.http.wsgi

from download_service import contract, slots, tls
from download_service.contract import Event
from download_service.metrics import SlotMetrics
from download_service.settings import ConfigError, Settings

try:
    _settings = Settings.from_env()
except ConfigError as error:
    sys.stderr.write(f"download-service: configuration error: {error}\n")
    sys.exit(2)

wsgi_app = "download_service.app:create_app()"
pythonpath = os.path.dirname(os.path.abspath(__file__))
bind = [f"{_settings.host}:{_settings.port}"]

# gthread: a slow download holds one thread, not a whole process, and the worker's main loop keeps heart-beating,
# so long transfers are not killed by `timeout`. The app admits at most threads - reserve downloads per worker
# (Settings.max_downloads_per_worker) so /health always finds a free thread. Fixed counts, not CPU-derived:
# Fargate reports the host's CPUs, not the task's share.
worker_class = "download_service.worker.GracefulThreadWorker"
workers = _settings.workers
threads = _settings.threads
worker_connections = 1000
timeout = 30
graceful_timeout = contract.GRACEFUL_TIMEOUT_S
keepalive = contract.KEEPALIVE_S
worker_tmp_dir = "/dev/shm"  # noqa: S108  # nosec B108 - tmpfs heartbeat files; the root filesystem is read-only
forwarded_allow_ips = _settings.forwarded_allow_ips
proxy_allow_ips = "127.0.0.1"
# No runtime control socket: it would write under $HOME on a read-only root filesystem, and nothing in the
# platform uses it (ECS scales tasks, not workers).
control_socket_disable = True

# gunicorn has no setting for its `Server: gunicorn/<version>` header and drops one the app sets; every response
# builds it from this module global. The service's name says nothing about the software or its version.
gunicorn.http.wsgi.SERVER = contract.SERVICE_NAME

# Request limits: oversized request lines and headers are refused by gunicorn with a 4xx before the app runs.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

loglevel = _settings.log_level
logger_class = "download_service.logs.GunicornJsonLogger"
accesslog = "-"
errorlog = "-"
capture_output = False


# --- TLS=self-signed: HTTPS on the same port, for the ALB's encrypted hop to the task (download_service/tls.py) -----

_tls = tls.generate() if _settings.tls == contract.TLS_SELF_SIGNED else None
if _tls:
    certfile, keyfile = _tls.certfile, _tls.keyfile


@functools.cache
def _tls_context():
    return tls.server_context(_tls.certfile, _tls.keyfile)


def ssl_context(config, default_ssl_context_factory):
    # gunicorn asks for a context on every new connection, and its default one re-reads the key (about 1.7 ms of
    # CPU each): build ours, with TLS 1.2 as the floor, once per worker.
    return _tls_context()


# --- download slots, shared by the workers of this task (download_service/slots.py) -------------------------------

# Rows for twice the workers and one more: a HUP reload runs new workers beside old ones for a moment.
_slot_table = slots.SlotTable(rows=2 * workers + 1)
_slot_metrics = (
    SlotMetrics(
        _settings.metrics_namespace,
        _settings.metrics_interval_s,
        total=workers * _settings.max_downloads_per_worker,
        in_use=_slot_table.in_use,
        extra={"version": _settings.version},
    )
    if _settings.metrics_namespace
    else None
)


def pre_fork(server, worker):
    worker.slot_row = _slot_table.claim_row()


def child_exit(server, worker):
    # In the master, also after a SIGKILL: the worker's streams stop counting against its clients and the task.
    if getattr(worker, "slot_row", None) is not None:
        _slot_table.free_row(worker.slot_row)


# --- lifecycle events, logged as JSON lines ----------------------------------------------------------------------


def _event(server, name: str, **fields):
    server.log.info(name, extra={"event": name, **fields})


def on_starting(server):
    _event(
        server,
        Event.STARTING,
        version=_settings.version,
        bind=bind,
        workers=workers,
        threads=threads,
        max_downloads_per_worker=_settings.max_downloads_per_worker,
        max_streams_per_client=_settings.max_streams_per_client,
        client_ip_header=_settings.client_ip_header,
        stall_timeout_s=_settings.stall_timeout_s,
        min_rate_bytes_s=_settings.min_rate_bytes_s,
        min_rate_window_s=_settings.min_rate_window_s,
        tls=_settings.tls,
        cache_mode=_settings.cache_mode,
        cache_control=_settings.cache_control,
        not_found_cache_control=_settings.not_found_cache_control,
        # The certificate's fingerprint and where the pair is: public facts. The key itself is never logged.
        tls_cert_sha256=_tls.fingerprint_sha256 if _tls else None,
        tls_certfile=_tls.certfile if _tls else None,
        metrics_namespace=_settings.metrics_namespace or None,
    )


def when_ready(server):
    _event(server, Event.READY)
    # gunicorn has no hook for SIGTERM on the master; its signal loop looks the handler up on the instance, so
    # wrapping it here records when a graceful shutdown starts (ECS stop, deployment, scale-in).
    handle_term = server.handle_term

    def logged_handle_term():
        _event(server, Event.SIGTERM, graceful_timeout_s=graceful_timeout)
        handle_term()

    server.handle_term = logged_handle_term
    if _slot_metrics:
        # Likewise no hook runs periodically in the master; its loop calls murder_workers about once a second.
        # Sampling there needs no thread in the master (a thread holding a lock while the master forks could
        # leave that lock held forever in the new worker).
        murder_workers = server.murder_workers

        def murder_workers_and_sample():
            murder_workers()
            _slot_metrics.tick()

        server.murder_workers = murder_workers_and_sample


def post_fork(server, worker):
    slots.attach(_slot_table, worker.slot_row)
    _event(server, Event.WORKER_BOOT, worker_pid=worker.pid)


def post_worker_init(worker):
    # The app is loaded, the worker does not accept yet. Building boto3's S3 client (botocore's S3 model and endpoint
    # rules) costs about 70 ms of CPU: left to the first request, every new worker's first answer took ~90 ms more and
    # its first 256 MiB download +0.35 CPU-s/GiB (docs/performance.md). A failure here is logged, not fatal: the
    # first request tries again and answers it, as it did before.
    try:
        worker.wsgi.extensions["download_service"].warm_up()
    except Exception:
        worker.log.exception("S3 client not built at worker start", extra={"worker_pid": worker.pid})


def worker_int(worker):
    worker.log.info(Event.WORKER_INTERRUPTED, extra={"event": Event.WORKER_INTERRUPTED, "worker_pid": worker.pid})


def worker_abort(worker):
    worker.log.error(Event.WORKER_TIMEOUT, extra={"event": Event.WORKER_TIMEOUT, "worker_pid": worker.pid})


def worker_exit(server, worker):
    _event(server, Event.WORKER_EXIT, worker_pid=worker.pid)


def on_exit(server):
    if _tls:
        tls.remove(_tls)
    _event(server, Event.SHUTDOWN)
    logging.shutdown()
