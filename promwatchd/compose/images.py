"""A small table of container images and the probe tools they contain, for health check linting.

An entry lists the tools a health check might call (shells, HTTP clients,
interpreters) that the image has. A tool from PROBE_TOOLS that the entry does
not list is missing from the image. Images not in the table are not judged.

Sources, as of the versions named:

- prom/prometheus, prom/alertmanager, prom/node-exporter, prom/pushgateway and
  prom/blackbox-exporter (also on quay.io/prometheus/) are built FROM
  quay.io/prometheus/busybox in the upstream Dockerfiles, and run as ``nobody``
  (uid 65534). busybox provides ``sh`` and ``wget``, and there is no ``curl``. A later release
  may drop busybox from these images, so a ``wget`` health check depends on that base.
- fail2ban-prometheus-exporter 0.x: the image contains the exporter binary only,
  with no shell, ``wget`` or ``curl`` (reported on the exporter's issue tracker
  for 0.9.0; later versions added ``curl``).
- gcr.io/distroless/static and /base: no shell and no tools (the ``:debug``
  tags add busybox and are left out of the table).
- busybox and alpine: busybox ``sh`` and ``wget``, no ``curl``.
- promwatchd (docker/Dockerfile in this repository): python:3.11-slim, which has
  ``sh`` and ``python`` but neither ``curl`` nor ``wget``.
"""

from __future__ import annotations

from dataclasses import dataclass

PROBE_TOOLS = frozenset({"sh", "bash", "curl", "wget", "nc", "python", "python3"})
"""Commands a health check typically calls that an image may lack; other commands are not judged."""


@dataclass(frozen=True)
class ImageTools:
    """Probe tools of one image family, with the repository names and tag prefix it matches."""

    repositories: tuple[str, ...]
    """Repository paths without registry host, such as ``prom/prometheus``; ``*/name`` matches any namespace."""
    tools: frozenset[str]
    description: str
    tag_prefix: str = ""
    """When set, only tags starting with it match, because other versions ship other tools."""


_BUSYBOX_TOOLS = frozenset({"sh", "wget"})

IMAGE_TOOLS: tuple[ImageTools, ...] = (
    ImageTools(
        ("prom/prometheus", "prometheus/prometheus"),
        _BUSYBOX_TOOLS,
        "the Prometheus image is built on quay.io/prometheus/busybox: it has sh and busybox wget, no curl",
    ),
    ImageTools(
        ("prom/alertmanager", "prometheus/alertmanager", "prom/node-exporter", "prometheus/node-exporter",
         "prom/pushgateway", "prometheus/pushgateway", "prom/blackbox-exporter", "prometheus/blackbox-exporter"),
        _BUSYBOX_TOOLS,
        "the image is built on quay.io/prometheus/busybox: it has sh and busybox wget, no curl",
    ),
    ImageTools(
        ("*/fail2ban-prometheus-exporter",),
        frozenset(),
        "fail2ban-prometheus-exporter 0.x images contain the exporter binary only: no shell, wget or curl",
        tag_prefix="0.",
    ),
    ImageTools(
        ("distroless/static", "distroless/base", "distroless/static-debian12", "distroless/base-debian12",
         "distroless/static-debian11", "distroless/base-debian11"),
        frozenset(),
        "distroless images have no shell and no tools",
    ),
    ImageTools(("busybox", "alpine"), _BUSYBOX_TOOLS, "the image has busybox sh and wget, no curl"),
    ImageTools(
        ("promwatchd", "*/promwatchd"),
        frozenset({"sh", "python", "python3"}),
        "the promwatchd image (python:3.11-slim) has sh and python, no curl or wget",
    ),
)


def split_image(image: str) -> tuple[str, str]:
    """Split an image reference into (repository path without registry host, tag).

    ``registry.example.com:5000/team/app:1.2@sha256:...`` gives (``team/app``, ``1.2``).
    Docker Hub's ``library/`` prefix is removed. A missing tag gives ``latest``.
    """
    reference = image.split("@", 1)[0]
    name, tag = reference, "latest"
    last_slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > last_slash:
        name, tag = reference[:colon], reference[colon + 1 :]

    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts).lower(), tag


def lookup_image(image: str) -> ImageTools | None:
    """Return the table entry for ``image``, or None when the image is not in the table."""
    repository, tag = split_image(image)
    last = repository.rsplit("/", 1)[-1]
    for entry in IMAGE_TOOLS:
        if entry.tag_prefix and not tag.startswith(entry.tag_prefix):
            continue
        for pattern in entry.repositories:
            if pattern == repository or (pattern.startswith("*/") and pattern[2:] == last):
                return entry
    return None


def is_prometheus_image(image: str) -> bool:
    """Return whether ``image`` is a Prometheus server image, such as prom/prometheus or bitnami/prometheus."""
    repository, _ = split_image(image)
    return repository.rsplit("/", 1)[-1] == "prometheus"
