"""`/healthz` (is the daemon doing its job?) and `/metrics` (Prometheus text format).

`/healthz` answers 200 when AMI is connected and the outbox is usable, 503 otherwise, with a
JSON body that says why: `status` is `ok`, `degraded` (working, but a CRM is paused or parked,
or jobs were dead-lettered) or `unhealthy`. `crm-connector check` reads it. Neither endpoint
shows a secret; both answer this host only, or a caller with `http.ops.token` (connector.api.ops).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric as PromMetric
from prometheus_client.registry import Collector

from connector.ami.client import AmiClient
from connector.ami.feed import CallFeed
from connector.errors import StorageError
from connector.sync.dispatcher import Dispatcher
from connector.sync.jobs import OutboxStats
from connector.sync.outbox import Outbox

PREFIX = "crm_connector_"
SOURCES_KEY: web.AppKey[HealthSources] = web.AppKey("health_sources")


@dataclass(frozen=True, slots=True)
class Metric:
    """One Prometheus metric family: name (without prefix), type, help and labelled samples."""

    name: str
    kind: str  # counter or gauge
    help: str
    samples: tuple[tuple[Mapping[str, str], float], ...]


def render(metrics: Iterable[Metric]) -> str:
    """The Prometheus text exposition format (0.0.4), written by `prometheus_client`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(tuple(metrics)))
    return generate_latest(registry).decode("utf-8")


class _Snapshot(Collector):
    """Metric families read once, handed to prometheus_client's writer (escaping, number format)."""

    def __init__(self, metrics: tuple[Metric, ...]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[PromMetric]:
        for metric in self.metrics:
            labels = sorted({key for sample, _ in metric.samples for key in sample})
            name = PREFIX + metric.name
            family: CounterMetricFamily | GaugeMetricFamily
            if metric.kind == "counter":
                family = CounterMetricFamily(name, metric.help, labels=labels)
            else:
                family = GaugeMetricFamily(name, metric.help, labels=labels)
            for sample, value in metric.samples:
                family.add_metric([sample.get(key, "") for key in labels], value)
            yield family


@dataclass(slots=True)
class HealthSources:
    """The parts health reads; the service fills them in as its stages start."""

    started: float = field(default_factory=time.time)
    stage: str = "starting"
    ami: AmiClient | None = None
    ari: Any = None  # connector.ari.client.AriClient when `ari:` is used (its status is AMI-shaped)
    feed: CallFeed | None = None
    outbox: Outbox | None = None
    dispatcher: Dispatcher | None = None
    control: Any = None  # connector.control.CallControl: click-to-call refusals (floods)

    async def outbox_stats(self) -> OutboxStats | None:
        """The outbox figures, or None when the outbox is not open or cannot be read."""
        if self.outbox is None:
            return None
        try:
            return await self.outbox.stats()
        except StorageError:
            return None

    async def report(self) -> dict[str, Any]:
        """The `/healthz` body."""
        stats = await self.outbox_stats()
        adapters = self._adapters()
        problems = self._problems(stats, adapters)
        damage = self.outbox.damage() if self.outbox is not None else None
        if damage is None and self.feed is not None and self.feed.stats.blocked:
            queued = self.feed.queue.qsize()
            damage = f"calls cannot be written ({queued} waiting in memory): {self.feed.stats.blocked}"
        if damage:
            problems.append(damage)
        unhealthy = self.stage != "running" or self.ami is None or not self.ami.connected or stats is None
        unhealthy = unhealthy or bool(damage) or (self.ari is not None and not self.ari.connected)
        status = "unhealthy" if unhealthy else ("degraded" if problems else "ok")
        return {
            "status": status,
            "stage": self.stage,
            "problems": problems,
            "ami": self._ami(),
            **({"ari": _client_status(self.ari)} if self.ari is not None else {}),
            "outbox": None if stats is None else {"depth": stats.depth, "dead": stats.dead},
            "adapters": adapters,
            "calls_in_progress": self.feed.tracker.in_progress if self.feed else 0,
            "uptime_seconds": round(time.time() - self.started, 3),
        }

    def _ami(self) -> dict[str, Any]:
        if self.ami is None:
            return {"connected": False}
        return _client_status(self.ami)

    def _adapters(self) -> dict[str, Any]:
        if self.dispatcher is None:
            return {}
        return {
            name: {"state": h.state, "failures": h.failures, "reason": h.reason}
            for name, h in self.dispatcher.health().items()
        }

    def _problems(self, stats: OutboxStats | None, adapters: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        if self.stage != "running":
            problems.append(f"the daemon is {self.stage}")
        if self.ami is not None and not self.ami.connected:
            detail = self.ami.status.last_error or "not connected yet"
            problems.append(f"AMI is not connected: {detail}")
        if self.ari is not None and not self.ari.connected:
            problems.append(f"ARI is not connected: {self.ari.status.last_error or 'not connected yet'}")
        if self.outbox is not None and stats is None:
            problems.append("the outbox cannot be read")
        problems += [
            f"adapter {n} is {a['state']}: {a['reason']}" for n, a in adapters.items() if a["state"] != "ok"
        ]
        if stats is not None and stats.dead:
            problems.append(f"{stats.dead} dead-lettered job(s): see `crm-connector outbox list --dead`")
        return problems

    async def metrics(self) -> list[Metric]:
        """Every metric family, read now."""
        found = self._ami_metrics() + self._feed_metrics() + self._delivery_metrics()
        found += self._control_metrics()
        stats = await self.outbox_stats()
        if stats is not None:
            found += _outbox_metrics(stats)
        return found

    def _control_metrics(self) -> list[Metric]:
        refused = getattr(getattr(self.control, "limits", None), "refused", None)
        if not refused:
            return []
        return [
            Metric(
                "click_to_call_refused_total",
                "counter",
                "click-to-calls refused by a rate limit, by level (caller, source, total)",
                tuple(({"level": k}, v) for k, v in sorted(refused.items())),
            )
        ]

    def _ami_metrics(self) -> list[Metric]:
        found = [] if self.ami is None else _client_metrics("ami", "AMI", self.ami.status)
        return found + ([] if self.ari is None else _client_metrics("ari", "ARI", self.ari.status))

    def _feed_metrics(self) -> list[Metric]:
        if self.feed is None:
            return []
        f = self.feed.stats
        tracker = self.feed.tracker
        return [
            Metric(
                "calls_total",
                "counter",
                "finished calls, by disposition",
                tuple(({"disposition": k}, v) for k, v in sorted(f.calls.items())),
            ),
            Metric(
                "calls_interrupted_total", "counter", "calls closed without their end", (({}, f.interrupted),)
            ),
            Metric(
                "calls_in_progress", "gauge", "conversations being followed", (({}, tracker.in_progress),)
            ),
            Metric("live_events_total", "counter", "live call events emitted", (({}, f.live_events),)),
            Metric(
                "failures_total",
                "counter",
                "things that went wrong, by kind",
                (
                    ({"kind": "tracker_skipped_event"}, tracker.skipped),
                    ({"kind": "outbox_write"}, f.write_failures),
                    ({"kind": "backlog_dropped"}, f.dropped),
                    ({"kind": "live_skipped_while_blocked"}, f.live_skipped),
                ),
            ),
            Metric(
                "feed_queue_depth",
                "gauge",
                "records waiting to enter the outbox",
                (({}, self.feed.queue.qsize()),),
            ),
        ]

    def _delivery_metrics(self) -> list[Metric]:
        if self.dispatcher is None:
            return []
        counts = self.dispatcher.counts
        health = self.dispatcher.health()
        return [
            Metric(
                "deliveries_total",
                "counter",
                "delivery attempts, by result",
                tuple(({"result": k}, v) for k, v in sorted(counts.items())),
            ),
            Metric(
                "adapter_up",
                "gauge",
                "1 when the adapter takes jobs (not paused or parked)",
                tuple(({"adapter": n}, float(h.state == "ok")) for n, h in sorted(health.items())),
            ),
        ]


def _client_status(client: Any) -> dict[str, Any]:
    """An AMI or ARI client's connection, for /healthz (both keep an `AmiStatus`)."""
    s = client.status
    return {
        "connected": s.connected,
        "since": s.since,
        "version": s.version,
        "reconnects": s.reconnects,
        "auth_failed": s.auth_failed,
        "last_error": s.last_error,
        "retry_in": s.retry_in,
    }


def _client_metrics(prefix: str, name: str, s: Any) -> list[Metric]:
    """`ami_*` or `ari_*`: connected, reconnects, events by name."""
    return [
        Metric(
            f"{prefix}_connected", "gauge", f"1 when the {name} session is up", (({}, float(s.connected)),)
        ),
        Metric(
            f"{prefix}_reconnects_total", "counter", f"{name} sessions re-established", (({}, s.reconnects),)
        ),
        Metric(
            f"{prefix}_events_total",
            "counter",
            f"{name} events received, by event name",
            tuple(({"event": k}, v) for k, v in sorted(s.event_counts.items())),
        ),
    ]


def _outbox_metrics(stats: OutboxStats) -> list[Metric]:
    per = sorted(stats.adapters.items())
    return [
        Metric(
            "outbox_depth",
            "gauge",
            "jobs waiting or running",
            tuple(({"adapter": n}, a.depth) for n, a in per),
        ),
        Metric("outbox_dead", "gauge", "dead-lettered jobs", tuple(({"adapter": n}, a.dead) for n, a in per)),
        Metric(
            "outbox_delivered",
            "gauge",
            "delivered jobs kept",
            tuple(({"adapter": n}, a.delivered) for n, a in per),
        ),
    ]


def _ops_check(request: web.Request) -> None:
    """Health and metrics for this host or the ops token holder (see connector.api.ops)."""
    from connector.api import ops
    from connector.api.app import SETTINGS_KEY

    if SETTINGS_KEY in request.app:
        ops.check(request, request.app[SETTINGS_KEY].ops)


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz."""
    _ops_check(request)
    report = await request.app[SOURCES_KEY].report()
    return web.json_response(report, status=503 if report["status"] == "unhealthy" else 200)


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics."""
    _ops_check(request)
    body = render(await request.app[SOURCES_KEY].metrics())
    return web.Response(text=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def setup_health(app: web.Application, sources: HealthSources) -> None:
    """Mount /healthz and /metrics on `app`."""
    app[SOURCES_KEY] = sources
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
