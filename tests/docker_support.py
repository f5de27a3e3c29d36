"""Pytest fixtures and helpers for tests that need a real Docker engine.

Load them with ``pytest_plugins = ["docker_support"]`` in tests/conftest.py.

By default the session starts its own dockerd, with host networking only, in a
temporary directory under /tmp, and stops it at the end. That needs root and
/usr/sbin/dockerd. Set PROMWATCHD_TEST_DOCKER_HOST (for example
``unix:///run/docker.sock``) to use a running engine instead. Without root or
dockerd the tests are skipped, unless CI is ``true``, where they fail.

Nothing here pulls from a registry: the Prometheus image is built FROM scratch
out of the host's /usr/bin/prometheus and busybox.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests

PROMETHEUS_IMAGE_TAG = "promwatchd-test/prometheus:2.42"
PROMETHEUS_BINARY = Path("/usr/bin/prometheus")
PROMTOOL_BINARY = Path("/usr/bin/promtool")
BUSYBOX_BINARY = Path("/bin/busybox")
DOCKERD_BINARY = "dockerd"

TEST_LABEL = "promwatchd.test"
"""Label on every container that the fixtures create. The session removes all containers with it at the end."""

DOCKER_HOST_VARIABLE = "PROMWATCHD_TEST_DOCKER_HOST"

DOCKERD_START_TIMEOUT_SECONDS = 30.0
DOCKERD_STOP_TIMEOUT_SECONDS = 20.0
PROMETHEUS_READY_TIMEOUT_SECONDS = 30.0

NOBODY_ID = 65534

PROMETHEUS_CONFIG = textwrap.dedent(
    """\
    # Minimal configuration for tests: Prometheus scrapes itself.
    # The target is the default port, so it is down when the container listens on another port.
    global:
      scrape_interval: 15s
    scrape_configs:
      - job_name: prometheus
        static_configs:
          - targets: ["127.0.0.1:9090"]
    """
)

DOCKERFILE = textwrap.dedent(
    f"""\
    FROM scratch
    COPY rootfs/ /
    COPY --chown={NOBODY_ID}:{NOBODY_ID} data/ /prometheus/
    USER nobody
    WORKDIR /prometheus
    ENTRYPOINT ["/usr/bin/prometheus"]
    CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
    """
)


class Dockerd:
    """A dockerd that the tests run, with its socket, data and state under ``directory``.

    The engine has no bridge network and does not touch iptables, so containers
    must use host networking. ``stop()`` and ``start()`` may be called again to
    restart the engine on the same data.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log_path = directory / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"unix://{self.directory / 'docker.sock'}"

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(cannot read {self.log_path}: {error})"

    def start(self, timeout_seconds: float = DOCKERD_START_TIMEOUT_SECONDS) -> None:
        """Start dockerd and wait until it responds to ping.

        Raises RuntimeError, with the dockerd log, when it exits or does not
        respond within ``timeout_seconds``. dockerd is stopped in both cases.
        """
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"dockerd pid {self.process.pid} is already running in {self.directory}")

        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            DOCKERD_BINARY,
            "--host", self.base_url,
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--data-root", str(self.directory / "root"),
            "--exec-root", str(self.directory / "exec"),
            "--pidfile", str(self.directory / "docker.pid"),
        ]
        with open(self.log_path, "ab") as log_file:
            # A new session keeps a Ctrl-C in the terminal from stopping dockerd
            # before the fixture's teardown removes the containers.
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        deadline = time.monotonic() + timeout_seconds
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited with code {self.process.returncode} during startup. "
                    f"Its log:\n{self.read_log()}"
                )
            last_error = _ping_error(self.base_url)
            if last_error is None:
                return
            time.sleep(0.2)

        self.stop()
        raise RuntimeError(
            f"dockerd at {self.base_url} did not respond to ping within {timeout_seconds} s "
            f"(last error: {last_error}). Its log:\n{self.read_log()}"
        )

    def stop(self, timeout_seconds: float = DOCKERD_STOP_TIMEOUT_SECONDS) -> None:
        """Stop dockerd by its pid: SIGTERM, then SIGKILL after ``timeout_seconds``.

        dockerd stops its running containers first. Then this stops the
        containerd of this directory too, found by its pid file, in case dockerd
        left it running. Does nothing when dockerd is not running.
        """
        process = self.process
        if process is None or process.poll() is not None:
            self._stop_containerd(timeout_seconds)
            return

        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            print(
                f"dockerd pid {process.pid} ignored SIGTERM for {timeout_seconds} s; sending SIGKILL",
                file=sys.stderr,
            )
            process.kill()
            process.wait(timeout=10)
        self._stop_containerd(timeout_seconds)

    def _stop_containerd(self, timeout_seconds: float) -> None:
        pid = _read_pid(self.directory / "exec" / "containerd" / "containerd.pid")
        if pid is None or not _is_process_of(pid, self.directory):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_seconds
        while _is_process_of(pid, self.directory):
            if time.monotonic() > deadline:
                print(f"containerd pid {pid} ignored SIGTERM for {timeout_seconds} s; sending SIGKILL", file=sys.stderr)
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.1)


def _ping_error(base_url: str) -> Exception | None:
    """Ping the engine at ``base_url`` and return the error, or None when it responded."""
    try:
        client = docker.DockerClient(base_url=base_url, timeout=5)
    except docker.errors.DockerException as error:
        return error
    try:
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        return error
    finally:
        client.close()
    return None


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it when CI is ``true`` so that CI cannot pass without running it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def dockerd_unavailable_reason() -> str | None:
    """Return why this process cannot start dockerd, or None when it can."""
    if os.geteuid() != 0:
        return "starting dockerd needs root; set PROMWATCHD_TEST_DOCKER_HOST to use a running engine"
    if shutil.which(DOCKERD_BINARY) is None:
        return "dockerd not found on PATH; install docker.io or set PROMWATCHD_TEST_DOCKER_HOST"
    return None


def make_short_temp_dir() -> Path:
    """Create a temporary directory under /tmp.

    The path stays short because Linux limits a unix socket path (docker.sock
    and containerd's sockets below it) to 108 bytes, including the final NUL.
    """
    return Path(tempfile.mkdtemp(prefix="pwd-", dir="/tmp"))


def start_dockerd(directory: Path, timeout_seconds: float = DOCKERD_START_TIMEOUT_SECONDS) -> Dockerd:
    """Start a dockerd in ``directory`` and return it once it responds to ping."""
    dockerd = Dockerd(directory)
    dockerd.start(timeout_seconds)
    return dockerd


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_process_of(pid: int, directory: Path) -> bool:
    """Return whether process ``pid`` runs with ``directory`` in its command line, so that a reused pid is left alone."""
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(directory).encode() in command_line


def remove_test_containers(client: docker.DockerClient) -> None:
    """Force-remove every container that carries TEST_LABEL."""
    for container in client.containers.list(all=True, filters={"label": TEST_LABEL}):
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def shared_libraries(binary: Path) -> list[Path]:
    """List the shared libraries and the loader that ``ldd`` reports for ``binary``.

    A static binary has none. The vDSO has no file and is left out.
    """
    ldd = shutil.which("ldd")
    if ldd is None:
        raise FileNotFoundError("ldd not found on PATH. It comes with the C library (Debian package libc-bin).")
    result = subprocess.run([ldd, str(binary)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # ldd exits with 1 and prints "not a dynamic executable" for a static binary.
        return []
    libraries = []
    for line in result.stdout.splitlines():
        match = re.search(r"(/\S+) \(0x[0-9a-f]+\)", line)
        if match:
            libraries.append(Path(match.group(1)))
    return libraries


def _copy_into_root(source: Path, rootfs: Path) -> None:
    """Copy ``source`` to the same absolute path under ``rootfs``, resolving symlinks."""
    target = rootfs / source.relative_to("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.resolve(), target)


def write_prometheus_build_context(context: Path) -> None:
    """Write the Dockerfile and the files of the test Prometheus image into ``context``."""
    binaries = (PROMETHEUS_BINARY, PROMTOOL_BINARY, BUSYBOX_BINARY)
    for binary in binaries:
        if not binary.is_file():
            raise FileNotFoundError(
                f"{binary} not found. Install the Debian package that provides it (prometheus or busybox-static)."
            )

    rootfs = context / "rootfs"
    for binary in binaries:
        _copy_into_root(binary, rootfs)
        for library in shared_libraries(binary):
            _copy_into_root(library, rootfs)

    # busybox picks the applet from the name it runs under.
    (rootfs / "bin" / "sh").symlink_to("busybox")
    (rootfs / "bin" / "wget").symlink_to("busybox")

    etc = rootfs / "etc"
    (etc / "prometheus").mkdir(parents=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        f"nobody:x:{NOBODY_ID}:{NOBODY_ID}:nobody:/nonexistent:/bin/sh\n"
    )
    (etc / "group").write_text(f"root:x:0:\nnogroup:x:{NOBODY_ID}:\n")
    (etc / "prometheus" / "prometheus.yml").write_text(PROMETHEUS_CONFIG)

    # Copied to /prometheus with owner nobody, so that Prometheus can write its TSDB there.
    (context / "data").mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)


def build_prometheus_image(client: docker.DockerClient, tag: str = PROMETHEUS_IMAGE_TAG) -> str:
    """Build the test Prometheus image into the engine of ``client`` and return its tag.

    The image is FROM scratch and contains the host's /usr/bin/prometheus and
    /usr/bin/promtool, as the official image does, with the libraries ``ldd`` lists, busybox as /bin/sh and /bin/wget for health
    checks, a nobody user, /etc/prometheus/prometheus.yml and a /prometheus data
    directory owned by nobody. It runs as nobody. The build never pulls.
    """
    with tempfile.TemporaryDirectory(prefix="pwd-image-") as directory:
        context = Path(directory)
        write_prometheus_build_context(context)
        client.images.build(
            path=str(context),
            tag=tag,
            pull=False,
            rm=True,
            forcerm=True,
            labels={TEST_LABEL: "true"},
        )
    return tag


def free_tcp_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    Another process can take it before the caller binds it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prometheus_ready(port: int) -> bool:
    """Return whether Prometheus on 127.0.0.1:``port`` responds to /-/ready with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(
    port: int,
    container: docker.models.containers.Container | None = None,
    timeout_seconds: float = PROMETHEUS_READY_TIMEOUT_SECONDS,
) -> None:
    """Wait until Prometheus on ``port`` responds to /-/ready with 200.

    Raises AssertionError on timeout, or as soon as ``container`` (when given)
    is no longer running. The message includes the container's log.
    """
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if prometheus_ready(port):
            return
        if container is not None:
            container.reload()
            if container.status not in ("created", "running", "restarting"):
                logs = container.logs().decode(errors="replace")
                raise AssertionError(
                    f"container {container.name} is {container.status} before Prometheus on port {port} "
                    f"became ready. Its log:\n{logs}"
                )
        time.sleep(0.1)

    logs = container.logs().decode(errors="replace") if container is not None else "(no container given)"
    raise AssertionError(
        f"Prometheus on 127.0.0.1:{port} did not respond to /-/ready with 200 within "
        f"{timeout_seconds} s. Container log:\n{logs}"
    )


def prometheus_command(port: int) -> list[str]:
    return [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]


def create_prometheus_container(
    client: docker.DockerClient,
    image: str,
    port: int,
    name: str | None = None,
    **create_options: object,
) -> docker.models.containers.Container:
    """Create (without starting) a Prometheus container on host network that listens on 127.0.0.1:``port``.

    The container has TEST_LABEL and a health check that fetches /-/ready with
    busybox wget every second. ``create_options`` go to ``containers.create``.
    """
    name = name or f"promwatchd-test-{uuid.uuid4().hex[:8]}"
    second = 1_000_000_000  # the engine takes health check durations in nanoseconds
    return client.containers.create(
        image,
        command=prometheus_command(port),
        name=name,
        network_mode="host",
        labels={TEST_LABEL: "true"},
        healthcheck={
            "test": ["CMD", "/bin/wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/-/ready"],
            "interval": second,
            "timeout": 2 * second,
            "retries": 3,
        },
        **create_options,
    )


def run_prometheus_container(
    client: docker.DockerClient,
    image: str,
    port: int,
    name: str | None = None,
    **create_options: object,
) -> docker.models.containers.Container:
    """Create and start a Prometheus container as ``create_prometheus_container`` describes."""
    container = create_prometheus_container(client, image, port, name, **create_options)
    container.start()
    return container


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[str]:
    """Base URL of the engine for the test session: PROMWATCHD_TEST_DOCKER_HOST, or a dockerd started here."""
    external = os.environ.get(DOCKER_HOST_VARIABLE)
    if external:
        yield external
        _remove_containers_quietly(external)
        return

    reason = dockerd_unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)

    directory = make_short_temp_dir()
    dockerd = Dockerd(directory)
    try:
        dockerd.start()
    except RuntimeError:
        dockerd.stop()
        remove_directory(directory)
        raise

    try:
        yield dockerd.base_url
    finally:
        _remove_containers_quietly(dockerd.base_url)
        dockerd.stop()
        remove_directory(directory)


def _remove_containers_quietly(base_url: str) -> None:
    try:
        client = docker.DockerClient(base_url=base_url, timeout=30)
    except docker.errors.DockerException as error:
        print(f"cannot remove test containers on {base_url}: {error}", file=sys.stderr)
        return
    try:
        remove_test_containers(client)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        print(f"cannot remove test containers on {base_url}: {error}", file=sys.stderr)
    finally:
        client.close()


def remove_directory(directory: Path) -> None:
    """Unmount what dockerd left mounted in ``directory`` (such as exec/netns/default), then delete it.

    Prints to stderr what could not be removed.
    """
    for mount_point in _mount_points_under(directory):
        result = subprocess.run(["umount", str(mount_point)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            print(f"umount {mount_point} failed: {result.stderr.strip()}", file=sys.stderr)

    failures: list[str] = []
    if sys.version_info >= (3, 12):
        shutil.rmtree(directory, onexc=lambda _function, path, error: failures.append(f"{path}: {error}"))
    else:
        shutil.rmtree(directory, onerror=lambda _function, path, info: failures.append(f"{path}: {info[1]}"))
    if failures:
        print(f"could not remove all of {directory}:\n" + "\n".join(failures[:10]), file=sys.stderr)


def _mount_points_under(directory: Path) -> list[Path]:
    """List the mount points inside ``directory``, deepest first, from /proc/self/mountinfo."""
    prefix = str(directory).rstrip("/") + "/"
    mount_points = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            # The fifth field is the mount point, with space, tab, newline and backslash octal-escaped.
            field = line.split(" ")[4]
            mount_point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)
            if mount_point.startswith(prefix):
                mount_points.append(Path(mount_point))
    return sorted(mount_points, key=lambda path: len(path.parts), reverse=True)


@pytest.fixture(scope="session")
def docker_client(docker_engine: str) -> Iterator[docker.DockerClient]:
    """A docker SDK client for the session's engine."""
    client = docker.DockerClient(base_url=docker_engine, timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def prometheus_image(docker_client: docker.DockerClient) -> str:
    """Tag of the test Prometheus image, built once per session into the session's engine."""
    return build_prometheus_image(docker_client)


@pytest.fixture
def prometheus_container(
    docker_client: docker.DockerClient,
    prometheus_image: str,
) -> Iterator[tuple[str, int]]:
    """Name and port of a running, ready Prometheus container, force-removed afterwards."""
    port = free_tcp_port()
    container = run_prometheus_container(docker_client, prometheus_image, port)
    try:
        wait_until_ready(port, container)
        yield container.name, port
    finally:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture
def private_dockerd() -> Iterator[Dockerd]:
    """A dockerd of this test alone, which the test may restart with ``stop()`` and ``start()``.

    Teardown removes the test containers, stops the dockerd running at that
    point, if any, and deletes its directory. When PROMWATCHD_TEST_DOCKER_HOST
    is set, a missing dockerd or root skips the test even where CI is ``true``,
    because the other docker tests still run on that engine.
    """
    reason = dockerd_unavailable_reason()
    if reason is not None and os.environ.get(DOCKER_HOST_VARIABLE):
        pytest.skip(reason)
    if reason is not None:
        skip_or_fail(reason)

    directory = make_short_temp_dir()
    dockerd = Dockerd(directory)
    try:
        dockerd.start()
    except RuntimeError:
        dockerd.stop()
        remove_directory(directory)
        raise

    try:
        yield dockerd
    finally:
        if dockerd.process is not None and dockerd.process.poll() is None:
            _remove_containers_quietly(dockerd.base_url)
        dockerd.stop()
        remove_directory(directory)
