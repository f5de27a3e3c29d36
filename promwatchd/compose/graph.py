"""The dependency graph of a compose file's services, and the restart order it implies.

Edges come from ``depends_on`` (list or mapping form, with the conditions
``service_started``, ``service_healthy`` and ``service_completed_successfully``),
``links`` (``service`` or ``service:alias``) and ``network_mode: service:NAME``.
A link or a shared network namespace counts as ``service_started``. This module
does no I/O: it takes the ``services`` mapping as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SERVICE_STARTED = "service_started"
SERVICE_HEALTHY = "service_healthy"
SERVICE_COMPLETED_SUCCESSFULLY = "service_completed_successfully"
CONDITIONS = (SERVICE_STARTED, SERVICE_HEALTHY, SERVICE_COMPLETED_SUCCESSFULLY)


class GraphError(ValueError):
    """The services cannot be ordered: a dependency cycle, a dependency on a missing service, or an invalid entry."""


@dataclass(frozen=True)
class Dependency:
    """An edge: ``service`` needs ``dependency`` to reach ``condition`` before it starts."""

    service: str
    dependency: str
    condition: str
    source: str
    """Origin of the edge: ``depends_on``, ``links`` or ``network_mode``."""
    required: bool = True
    """False for ``depends_on`` entries with ``required: false``: Compose then skips a missing dependency."""


@dataclass(frozen=True)
class RestartPlan:
    """The recovery order for ``failed``.

    ``dependencies`` are checked first, in start order, and each one that is not
    ready is restarted. Then ``failed`` is restarted, and then ``dependents``,
    each after the services it depends on.
    """

    failed: str
    dependencies: tuple[str, ...]
    dependents: tuple[str, ...]

    @property
    def steps(self) -> tuple[str, ...]:
        return (*self.dependencies, self.failed, *self.dependents)


class DependencyGraph:
    """Services and their dependencies, in the order of the compose file."""

    def __init__(self, services: tuple[str, ...], dependencies: tuple[Dependency, ...]) -> None:
        self.services = services
        self.dependencies = dependencies
        self._order = _topological_order(services, dependencies)

    def without(self, excluded: set[str] | frozenset[str]) -> DependencyGraph:
        """Return the graph without ``excluded`` services and the edges that touch them."""
        services = tuple(service for service in self.services if service not in excluded)
        edges = tuple(edge for edge in self.dependencies if edge.service not in excluded and edge.dependency not in excluded)
        return DependencyGraph(services, edges)

    def dependencies_of(self, service: str) -> list[Dependency]:
        """Return the direct dependencies of ``service``, in file order."""
        self._require(service)
        return [edge for edge in self.dependencies if edge.service == service]

    def dependents_of(self, service: str) -> list[str]:
        """Return the services that depend directly on ``service``, in start order."""
        self._require(service)
        direct = {edge.service for edge in self.dependencies if edge.dependency == service}
        return [name for name in self._order if name in direct]

    def condition(self, service: str, dependency: str) -> str:
        """Return the strictest condition under which ``service`` waits for ``dependency``, or ``service_started``."""
        conditions = [edge.condition for edge in self.dependencies if edge.service == service and edge.dependency == dependency]
        return max(conditions, key=CONDITIONS.index, default=SERVICE_STARTED)

    def start_order(self) -> list[str]:
        """Return every service after all its dependencies; ties keep file order."""
        return list(self._order)

    def restart_plan(self, failed: str) -> RestartPlan:
        """Return the order for recovering ``failed``: its transitive dependencies, itself, its transitive dependents."""
        self._require(failed)
        below = self._closure(failed, lambda name: [edge.dependency for edge in self.dependencies if edge.service == name])
        above = self._closure(failed, lambda name: [edge.service for edge in self.dependencies if edge.dependency == name])
        return RestartPlan(
            failed=failed,
            dependencies=tuple(name for name in self._order if name in below),
            dependents=tuple(name for name in self._order if name in above),
        )

    def _closure(self, start: str, neighbours: Any) -> set[str]:
        seen: set[str] = set()
        pending = [start]
        while pending:
            for name in neighbours(pending.pop()):
                if name not in seen and name != start:
                    seen.add(name)
                    pending.append(name)
        return seen

    def _require(self, service: str) -> None:
        if service not in self.services:
            raise GraphError(f"service {service!r} not found; services: {', '.join(self.services)}")


def build_graph(services: Mapping[str, Any]) -> DependencyGraph:
    """Build the graph from a compose file's ``services`` mapping.

    Raises GraphError for a dependency on a service that is not defined (unless
    ``required: false``), an unknown condition, an entry of the wrong type, or a cycle.
    """
    names = tuple(str(name) for name in services)
    edges: list[Dependency] = []
    for name, service in services.items():
        if not isinstance(service, Mapping):
            raise GraphError(f"service {name!r} must be a mapping, not {type(service).__name__}")
        edges.extend(_depends_on(str(name), service.get("depends_on")))
        edges.extend(_links(str(name), service.get("links")))
        edges.extend(_network_mode(str(name), service.get("network_mode")))

    kept = []
    for edge in edges:
        if edge.dependency == edge.service:
            raise GraphError(f"service {edge.service!r} depends on itself ({edge.source})")
        if edge.dependency not in names:
            if not edge.required:
                continue
            raise GraphError(
                f"service {edge.service!r} depends on {edge.dependency!r} ({edge.source}), which is not defined "
                f"in services; defined: {', '.join(names)}"
            )
        kept.append(edge)
    return DependencyGraph(names, tuple(kept))


def _depends_on(name: str, value: Any) -> list[Dependency]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        for entry in value:
            if not isinstance(entry, str):
                raise GraphError(f"service {name!r}: depends_on list entries must be service names, not {entry!r}")
        return [Dependency(name, entry, SERVICE_STARTED, "depends_on") for entry in value]
    if isinstance(value, Mapping):
        edges = []
        for dependency, options in value.items():
            options = options or {}
            if not isinstance(options, Mapping):
                raise GraphError(f"service {name!r}: depends_on.{dependency} must be a mapping with a condition")
            condition = options.get("condition", SERVICE_STARTED)
            if condition not in CONDITIONS:
                raise GraphError(
                    f"service {name!r}: depends_on.{dependency}.condition {condition!r} is invalid; "
                    f"expected one of {', '.join(CONDITIONS)}"
                )
            required = options.get("required", True) is not False
            edges.append(Dependency(name, str(dependency), condition, "depends_on", required))
        return edges
    raise GraphError(f"service {name!r}: depends_on must be a list or a mapping, not {type(value).__name__}")


def _links(name: str, value: Any) -> list[Dependency]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(entry, str) for entry in value):
        raise GraphError(f"service {name!r}: links must be a list of 'service' or 'service:alias' entries")
    return [Dependency(name, entry.split(":", 1)[0], SERVICE_STARTED, "links") for entry in value]


def _network_mode(name: str, value: Any) -> list[Dependency]:
    if isinstance(value, str) and value.startswith("service:"):
        return [Dependency(name, value.removeprefix("service:"), SERVICE_STARTED, "network_mode")]
    return []


def _topological_order(services: tuple[str, ...], dependencies: tuple[Dependency, ...]) -> list[str]:
    """Order services after their dependencies (Kahn's algorithm, ties in file order); raise GraphError on a cycle."""
    remaining = {name: {edge.dependency for edge in dependencies if edge.service == name} for name in services}
    order: list[str] = []
    while remaining:
        ready = [name for name in services if name in remaining and not remaining[name]]
        if not ready:
            raise GraphError(f"dependency cycle: {' -> '.join(_find_cycle(remaining))}")
        for name in ready:
            del remaining[name]
            order.append(name)
        for waiting in remaining.values():
            waiting.difference_update(ready)
    return order


def _find_cycle(remaining: dict[str, set[str]]) -> list[str]:
    """Return one cycle among services that still wait, as a path that ends where it starts."""
    path: list[str] = []
    current = next(iter(remaining))
    while current not in path:
        path.append(current)
        current = sorted(remaining[current])[0]
    return [*path[path.index(current) :], current]
