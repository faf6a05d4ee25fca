"""gunicorn worker class: gthread, with a prompt close of the listening socket on graceful stop."""

from __future__ import annotations

from gunicorn.workers.gthread import TConn, ThreadWorker


class GracefulThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, except that a stopping worker closes its copy of the listening socket at once.

    Stock gthread only stops polling the listener and closes it when the worker exits, up to graceful_timeout
    later. Meanwhile the kernel keeps completing handshakes into the backlog that nobody will ever serve: those
    clients hang, then get reset. Closing it at once makes new connections fail fast (ECONNREFUSED), so a client
    or load balancer retries elsewhere, while in-flight requests still finish. Connections the kernel had already
    queued when the stop began are accepted and served first: closing the listener would reset them unanswered.
    """

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                self._accept_queued(listener)
                listener.close()

    def _accept_queued(self, listener) -> None:
        """Serve what is already in the accept queue (bounded: the listener is non-blocking)."""
        for _ in range(self.worker_connections):
            try:
                client, address = listener.accept()
            except ConnectionAbortedError:
                continue
            except OSError:  # EAGAIN: the queue is empty
                return
            self.nr_conns += 1
            client.setblocking(True)
            self.enqueue_req(TConn(self.cfg, client, address, listener.getsockname()))
