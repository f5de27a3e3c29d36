"""The compose dependency graph: edges from each syntax, start order, restart plans and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from promwatchd.compose.graph import GraphError, build_graph
from promwatchd.compose.source import load_compose_file

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("services", "service", "expected"),
    [
        ({"a": {"depends_on": ["b"]}, "b": {}}, "a", [("b", "service_started", "depends_on")]),
        (
            {"a": {"depends_on": {"b": {"condition": "service_healthy"}, "c": {"condition": "service_completed_successfully"}}}, "b": {}, "c": {}},
            "a",
            [("b", "service_healthy", "depends_on"), ("c", "service_completed_successfully", "depends_on")],
        ),
        ({"a": {"depends_on": {"b": None}}, "b": {}}, "a", [("b", "service_started", "depends_on")]),
        ({"a": {"links": ["b:db", "c"]}, "b": {}, "c": {}}, "a", [("b", "service_started", "links"), ("c", "service_started", "links")]),
        ({"a": {"network_mode": "service:b"}, "b": {}}, "a", [("b", "service_started", "network_mode")]),
        ({"a": {"network_mode": "host"}, "b": {}}, "a", []),
        ({"a": {"network_mode": "container:xyz"}}, "a", []),
    ],
)
def test_edges_from_each_syntax(services: dict, service: str, expected: list[tuple[str, str, str]]) -> None:
    graph = build_graph(services)

    assert [(edge.dependency, edge.condition, edge.source) for edge in graph.dependencies_of(service)] == expected


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ({"a": {"depends_on": ["a"]}}, "service 'a' depends on itself"),
        ({"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}}, "dependency cycle: a -> b -> a"),
        ({"a": {"depends_on": ["b"]}, "b": {"links": ["c"]}, "c": {"network_mode": "service:a"}}, "dependency cycle: a -> b -> c -> a"),
        ({"a": {"depends_on": ["missing"]}}, "depends on 'missing' (depends_on), which is not defined"),
        ({"a": {"links": ["missing:alias"]}}, "depends on 'missing' (links)"),
        ({"a": {"network_mode": "service:gone"}}, "depends on 'gone' (network_mode)"),
        ({"a": {"depends_on": {"b": {"condition": "service_ready"}}}, "b": {}}, "condition 'service_ready' is invalid"),
        ({"a": {"depends_on": "b"}, "b": {}}, "depends_on must be a list or a mapping"),
        ({"a": {"depends_on": [{"b": 1}]}}, "depends_on list entries must be service names"),
        ({"a": {"links": "b"}}, "links must be a list"),
        ({"a": ["image"]}, "service 'a' must be a mapping"),
    ],
)
def test_invalid_graphs_raise(services: dict, message: str) -> None:
    with pytest.raises(GraphError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_graph(services)


def test_optional_missing_dependency_skipped() -> None:
    graph = build_graph({"a": {"depends_on": {"b": {"condition": "service_started", "required": False}}}})

    assert graph.dependencies_of("a") == []


@pytest.mark.parametrize(
    ("services", "order"),
    [
        ({"a": {}, "b": {}, "c": {}}, ["a", "b", "c"]),
        ({"app": {"depends_on": ["db"]}, "db": {}}, ["db", "app"]),
        ({"d": {"depends_on": ["b", "c"]}, "c": {"depends_on": ["a"]}, "b": {"depends_on": ["a"]}, "a": {}}, ["a", "c", "b", "d"]),
    ],
)
def test_start_order(services: dict, order: list[str]) -> None:
    assert build_graph(services).start_order() == order


STACK = {
    "exporter": {},
    "alertmanager": {},
    "prometheus": {"depends_on": {"exporter": {"condition": "service_healthy"}, "alertmanager": {"condition": "service_healthy"}}},
    "grafana": {"depends_on": ["prometheus"]},
    "sidecar": {"network_mode": "service:prometheus"},
    "dashboard-loader": {"depends_on": {"grafana": {"condition": "service_healthy"}}},
    "unrelated": {},
}


@pytest.mark.parametrize(
    ("failed", "dependencies", "dependents"),
    [
        ("prometheus", ("exporter", "alertmanager"), ("grafana", "sidecar", "dashboard-loader")),
        ("exporter", (), ("prometheus", "grafana", "sidecar", "dashboard-loader")),
        ("grafana", ("exporter", "alertmanager", "prometheus"), ("dashboard-loader",)),
        ("unrelated", (), ()),
    ],
)
def test_restart_plan_order(failed: str, dependencies: tuple[str, ...], dependents: tuple[str, ...]) -> None:
    plan = build_graph(STACK).restart_plan(failed)

    assert plan.dependencies == dependencies
    assert plan.dependents == dependents
    assert plan.steps == (*dependencies, failed, *dependents)


def test_direct_dependents_and_condition() -> None:
    graph = build_graph(STACK)

    assert graph.dependents_of("prometheus") == ["grafana", "sidecar"]
    assert graph.condition("prometheus", "exporter") == "service_healthy"
    assert graph.condition("grafana", "prometheus") == "service_started"


def test_unknown_service_in_plan_raises() -> None:
    with pytest.raises(GraphError, match="service 'nope' not found"):
        build_graph(STACK).restart_plan("nope")


def test_repository_stack_graph() -> None:
    compose = load_compose_file(REPO / "docker" / "docker-compose.yml", environment={})
    graph = build_graph(compose.services)

    assert graph.start_order() == ["node-exporter", "alertmanager", "prometheus", "promwatchd"]
    assert graph.restart_plan("prometheus").dependents == ("promwatchd",)


def test_without_drops_service_and_edges():
    from promwatchd.compose.graph import build_graph

    graph = build_graph(
        {
            "prometheus": {"depends_on": ["exporter"]},
            "exporter": {},
            "promwatchd": {"depends_on": {"prometheus": {"condition": "service_started"}}},
        }
    )
    trimmed = graph.without(frozenset({"promwatchd"}))
    assert trimmed.services == ("prometheus", "exporter")
    assert trimmed.restart_plan("prometheus").dependents == ()
    assert trimmed.restart_plan("prometheus").dependencies == ("exporter",)
