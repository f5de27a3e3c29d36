"""promwatchd's own settings: YAML file, then PROMWATCHD_* environment, then CLI flags.

Relative paths in the file resolve against the file's directory, so a
settings file and the prometheus.yml beside it can move together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from promwatchd.durations import parse_duration
from promwatchd.policy import Policy
from promwatchd.yamlfile import YamlFileError, read_yaml_mapping

ENV_PREFIX = "PROMWATCHD_"
DEFAULT_SETTINGS_FILE = Path("/etc/promwatchd/promwatchd.yaml")


class SettingsError(Exception):
    """The settings cannot be used; the message names the file, the field and the fix."""


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value.strip())
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]
PositiveSeconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrometheusSettings(_Section):
    url: str | None = None
    """Base URL of the probes; default: http:// plus process.listen_address."""


class ProcessSettings(_Section):
    binary: str = "prometheus"
    config_file: Path = Path("prometheus.yml")
    data_dir: Path | None = None
    """Prometheus's TSDB directory; default: <state_dir>/prometheus-data."""
    listen_address: str = "127.0.0.1:9090"
    extra_args: list[str] = []
    output_tail_lines: int = Field(default=200, ge=10, le=100_000)


class DockerSettings(_Section):
    container: str = "prometheus"
    engine_url: str | None = None
    """Docker engine address, such as unix:///var/run/docker.sock; default: DOCKER_HOST or the standard socket."""


class ComposeSettings(_Section):
    file: Path = Path("docker-compose.yml")
    project: str | None = None
    """Compose project name; default: the name of the compose file's directory, as Compose does."""
    service: str = "prometheus"
    ready_timeout: PositiveSeconds = 120.0
    exclude_services: list[str] = ["promwatchd"]
    """Services never restarted, such as promwatchd's own sidecar."""


class ProbeSettings(_Section):
    interval: PositiveSeconds = 5.0
    startup_interval: PositiveSeconds = 0.5
    timeout: PositiveSeconds = 2.0
    max_response_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    query: str = "vector(1)"
    ingestion_stall: PositiveSeconds = 180.0


class RecoverySettings(_Section):
    failure_threshold: int = Field(default=3, ge=1)
    backoff_initial: PositiveSeconds = 1.0
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    backoff_max: PositiveSeconds = 60.0
    backoff_jitter: float = Field(default=0.2, ge=0.0, lt=1.0)
    stable_after: Seconds = 300.0
    restart_budget: int = Field(default=5, ge=1)
    budget_window: PositiveSeconds = 600.0
    gave_up_cooldown: PositiveSeconds = 300.0
    stall_timeout: PositiveSeconds = 60.0
    stop_grace_period: Seconds = 60.0
    hung_stop_grace_period: Seconds = 10.0
    blocked_recheck: PositiveSeconds = 30.0

    @model_validator(mode="after")
    def _check_backoff(self) -> RecoverySettings:
        if self.backoff_max < self.backoff_initial:
            raise ValueError(
                f"backoff_max ({self.backoff_max:g}s) is below backoff_initial ({self.backoff_initial:g}s); "
                "raise backoff_max or lower backoff_initial"
            )
        return self


class FallbackSettings(_Section):
    enabled: bool = True
    after_failures: int = Field(default=3, ge=1)
    salvage: bool = True
    """Fall back to the user's config with the failing jobs left out, when some of it passes validation; false always uses the minimal config."""
    promtool: str = "promtool"
    """promtool used to validate the user's config before switching back; empty to skip."""
    watch_interval: PositiveSeconds = 2.0


class ServerSettings(_Section):
    listen_address: str = "127.0.0.1:9098"
    token: SecretStr | None = None
    token_file: Path | None = None
    """File holding the bearer token for state-changing endpoints; without a token they are disabled."""


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class HealthURLSettings(_Section):
    url: str
    expected_status: int = Field(default=200, ge=100, le=599)
    body_contains: str = ""
    """Text the response body must contain; empty accepts any body."""


class TargetSettings(_Section):
    enabled: bool = False
    """Off by default: when on, promwatchd fetches every scrape target once per interval."""
    interval: PositiveSeconds = 60.0
    source: Literal["config", "prometheus"] = "config"
    """config: the targets of process.config_file; prometheus: the active targets of Prometheus's API."""
    per_target_metrics: bool = False
    extra_health_urls: list[HealthURLSettings] = []
    concurrency: int = Field(default=64, ge=1, le=10_000)
    per_host: int = Field(default=4, ge=1, le=1_000)


class Settings(_Section):
    state_dir: Path = Path("/var/lib/promwatchd")
    backend: Literal["process", "docker", "compose"] = "process"
    prometheus: PrometheusSettings = PrometheusSettings()
    process: ProcessSettings = ProcessSettings()
    docker: DockerSettings = DockerSettings()
    compose: ComposeSettings = ComposeSettings()
    probes: ProbeSettings = ProbeSettings()
    recovery: RecoverySettings = RecoverySettings()
    fallback: FallbackSettings = FallbackSettings()
    server: ServerSettings = ServerSettings()
    log: LogSettings = LogSettings()
    targets: TargetSettings = TargetSettings()

    source: Path | None = Field(default=None, exclude=True)
    """The settings file these came from, if any."""

    @property
    def prometheus_url(self) -> str:
        if self.prometheus.url:
            return self.prometheus.url.rstrip("/")
        return f"http://{self.process.listen_address}"

    def policy(self, fallback_supported: bool) -> Policy:
        r = self.recovery
        return Policy(
            failure_threshold=r.failure_threshold,
            backoff_initial=r.backoff_initial,
            backoff_multiplier=r.backoff_multiplier,
            backoff_max=r.backoff_max,
            backoff_jitter=r.backoff_jitter,
            stable_after=r.stable_after,
            restart_budget=r.restart_budget,
            budget_window=r.budget_window,
            gave_up_cooldown=r.gave_up_cooldown,
            stall_timeout=r.stall_timeout,
            fallback_after=self.fallback.after_failures,
            fallback_enabled=self.fallback.enabled and fallback_supported,
            blocked_recheck=r.blocked_recheck,
        )

    def read_token(self) -> str | None:
        """Return the API token from ``server.token`` or ``server.token_file``; None when neither is set."""
        if self.server.token is not None:
            return self.server.token.get_secret_value() or None
        if self.server.token_file is None:
            return None
        try:
            token = self.server.token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SettingsError(
                f"cannot read server.token_file {str(self.server.token_file)!r}: {error.strerror}; "
                "create it (mode 0600) or remove the setting"
            ) from error
        return token or None


def load_settings(
    path: Path | None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, merge and validate the settings; raise SettingsError with one line per problem.

    ``overrides`` maps dotted field paths (``server.listen_address``) to values
    from CLI flags. Without ``path``, /etc/promwatchd/promwatchd.yaml is read if
    it exists, else the defaults apply.
    """
    environ = os.environ if environ is None else environ
    source = path
    if source is None and DEFAULT_SETTINGS_FILE.exists():
        source = DEFAULT_SETTINGS_FILE

    raw: dict[str, Any] = {}
    if source is not None:
        raw = _read_yaml(source)

    for dotted, value in _environment_overrides(environ).items():
        _set_dotted(raw, dotted, value)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, dotted, value)

    where = str(source) if source is not None else "the default settings"
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        raise SettingsError("\n".join(_describe(where, e) for e in error.errors())) from None

    base = source.resolve().parent if source is not None else Path.cwd()
    return _resolve_paths(settings, base, source)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        return read_yaml_mapping(
            path,
            "settings file",
            "pass --config with the path to your promwatchd.yaml (config.example.yaml shows every field)",
        )
    except YamlFileError as error:
        raise SettingsError(str(error)) from None


def _environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Map PROMWATCHD_SECTION__FIELD=value to {"section.field": value}; values are read as YAML scalars."""
    found: dict[str, Any] = {}
    for key, text in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        dotted = key[len(ENV_PREFIX) :].lower().replace("__", ".")
        try:
            found[dotted] = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            found[dotted] = text
    return found


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def _describe(where: str, error: Mapping[str, Any]) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field; check the spelling against config.example.yaml"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    value = error.get("input")
    shown = "" if error["type"] == "extra_forbidden" or isinstance(value, dict) or "token" in field else f" (got {value!r})"
    return f"invalid settings in {where}: {field}: {message}{shown}"


def _resolve_paths(settings: Settings, base: Path, source: Path | None) -> Settings:
    def resolve(path: Path) -> Path:
        return path if path.is_absolute() else base / path

    state_dir = resolve(settings.state_dir)
    data_dir = settings.process.data_dir
    process = settings.process.model_copy(
        update={
            "config_file": resolve(settings.process.config_file),
            "data_dir": resolve(data_dir) if data_dir is not None else state_dir / "prometheus-data",
        }
    )
    server = settings.server
    if server.token_file is not None:
        server = server.model_copy(update={"token_file": resolve(server.token_file)})
    compose = settings.compose.model_copy(update={"file": resolve(settings.compose.file)})
    return settings.model_copy(
        update={"state_dir": state_dir, "process": process, "server": server, "compose": compose, "source": source}
    )
