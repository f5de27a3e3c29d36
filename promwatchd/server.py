"""promwatchd's HTTP server: /metrics, /healthz, /readyz, /api/status, /api/targets and the restart endpoint."""

from __future__ import annotations

import hmac

import structlog
from aiohttp import web
from prometheus_client.exposition import choose_encoder

from promwatchd.metrics import Metrics
from promwatchd.supervisor import Supervisor

log = structlog.get_logger(__name__)


class StatusServer:
    """Serves the daemon's state. State-changing endpoints need the bearer token.

    Without a configured token they are disabled, so a default install exposes
    nothing that can act on Prometheus.
    """

    def __init__(self, supervisor: Supervisor, metrics: Metrics, listen_address: str, token: str | None) -> None:
        self.supervisor = supervisor
        self.metrics = metrics
        self.listen_address = listen_address
        self.token = token
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        application = web.Application(client_max_size=64 * 1024)
        application.router.add_get("/metrics", self.handle_metrics)
        application.router.add_get("/healthz", self.handle_healthz)
        application.router.add_get("/readyz", self.handle_readyz)
        application.router.add_get("/api/status", self.handle_status)
        application.router.add_get("/api/targets", self.handle_targets)
        application.router.add_post("/api/restart", self.handle_restart)
        return application

    async def start(self) -> None:
        """Bind and serve; raises OSError when the address cannot be bound."""
        host, _, port = self.listen_address.rpartition(":")
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]") or "127.0.0.1", int(port))
        await site.start()
        log.info("http_server_started", listen_address=self.listen_address, restart_endpoint_enabled=self.token is not None)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            log.info("http_server_stopped", listen_address=self.listen_address)

    async def handle_metrics(self, request: web.Request) -> web.Response:
        # The scraper's Accept header picks the format: OpenMetrics or the text format.
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.metrics.registry), headers={"Content-Type": content_type})

    async def handle_healthz(self, request: web.Request) -> web.Response:
        alive = self.supervisor.loop_alive()
        snapshot = self.supervisor.snapshot()
        body = {
            "status": "ok" if alive else "stalled",
            "supervision_loop_alive": alive,
            "prometheus": {
                "state": snapshot["state"],
                "reason": snapshot["reason"],
                "fallback_active": snapshot["fallback_active"],
                "last_failure": snapshot["last_failure"],
            },
        }
        return web.json_response(body, status=200 if alive else 503)

    async def handle_readyz(self, request: web.Request) -> web.Response:
        ready = self.supervisor.loop_alive() and self.supervisor.rounds_done > 0
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def handle_status(self, request: web.Request) -> web.Response:
        return web.json_response(self.supervisor.snapshot())

    async def handle_targets(self, request: web.Request) -> web.Response:
        """Serve the last target-check report (secrets masked); ``report`` is null before the first run."""
        enabled = self.supervisor.settings.targets.enabled
        return web.json_response(self.supervisor.target_checks.snapshot(enabled))

    async def handle_restart(self, request: web.Request) -> web.Response:
        if self.token is None:
            return web.json_response(
                {"error": "state-changing endpoints are disabled: set server.token_file to enable them"}, status=403
            )
        header = request.headers.get("Authorization", "")
        given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            log.warning("api_unauthorized", path=request.path, remote=request.remote)
            return web.json_response(
                {"error": "missing or wrong bearer token: send 'Authorization: Bearer <token>'"}, status=401
            )

        self.supervisor.request_restart(requested_by=f"api ({request.remote})")
        return web.json_response({"accepted": True, "note": "the restart budget still applies"}, status=202)
