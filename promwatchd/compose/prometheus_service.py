"""Find the Prometheus services of a compose file and read their effective flags."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ruamel.yaml.comments import CommentedMap

from promwatchd.compose.images import is_prometheus_image
from promwatchd.compose.service import command_arguments, flag_value, has_flag, image_of
from promwatchd.compose.source import ComposeFile

IMAGE_WORKDIR = "/prometheus"
"""Working directory of the prom/prometheus image, against which relative flag paths resolve."""

IMAGE_USER = "65534"
"""The prom/prometheus image runs as nobody (uid 65534) unless the service sets ``user``."""

# The image's CMD, which applies when the service sets no ``command``.
IMAGE_CONFIG_FILE = "/etc/prometheus/prometheus.yml"
IMAGE_TSDB_PATH = "/prometheus"

# Prometheus's own defaults, which apply when ``command`` replaces the image's CMD without these flags.
DEFAULT_CONFIG_FILE = "prometheus.yml"
DEFAULT_TSDB_PATH = "data/"
DEFAULT_LISTEN_ADDRESS = "0.0.0.0:9090"


@dataclass(frozen=True)
class PrometheusService:
    """A Prometheus service and the paths and flags it runs with inside its container."""

    name: str
    service: CommentedMap
    config_file: str
    tsdb_path: str
    listen_port: int
    lifecycle_enabled: bool
    user: str


def prometheus_services(compose: ComposeFile) -> list[PrometheusService]:
    """Return the services that run a Prometheus server: a Prometheus image, or a service named ``prometheus`` without image."""
    found = []
    for name, service in compose.services.items():
        image = image_of(service)
        if is_prometheus_image(image) or (not image and name == "prometheus"):
            found.append(read_prometheus_service(str(name), service))
    return found


def read_prometheus_service(name: str, service: CommentedMap) -> PrometheusService:
    arguments = command_arguments(service)
    if arguments is None:
        config_file, tsdb_path, listen_address, lifecycle = IMAGE_CONFIG_FILE, IMAGE_TSDB_PATH, DEFAULT_LISTEN_ADDRESS, False
    else:
        config_file = flag_value(arguments, "--config.file") or DEFAULT_CONFIG_FILE
        tsdb_path = flag_value(arguments, "--storage.tsdb.path") or DEFAULT_TSDB_PATH
        listen_address = flag_value(arguments, "--web.listen-address") or DEFAULT_LISTEN_ADDRESS
        lifecycle = has_flag(arguments, "--web.enable-lifecycle")

    port_text = listen_address.rpartition(":")[2]
    user = service.get("user")
    return PrometheusService(
        name=name,
        service=service,
        config_file=_absolute(config_file),
        tsdb_path=_absolute(tsdb_path),
        listen_port=int(port_text) if port_text.isdigit() else 9090,
        lifecycle_enabled=lifecycle,
        user=str(user) if user is not None else IMAGE_USER,
    )


def _absolute(path: str) -> str:
    return posixpath.normpath(posixpath.join(IMAGE_WORKDIR, path))


def path_is_under(path: str, directory: str) -> bool:
    """Return whether container path ``path`` is ``directory`` or inside it."""
    directory = posixpath.normpath(directory)
    path = posixpath.normpath(path)
    return path == directory or path.startswith(directory.rstrip("/") + "/")
