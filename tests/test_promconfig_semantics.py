"""Strict schema and semantic checks of the config validator, on small configs written as users write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promwatchd.promconfig import validate_bytes


def _check(text: str, tmp_path: Path, **options):
    options.setdefault("syntax_only", True)
    return validate_bytes(text.encode("utf-8"), "prometheus.yml", tmp_path, **options)


def _errors(text: str, tmp_path: Path, **options) -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in _check(text, tmp_path, **options).findings if f.is_error]


def _job(body: str) -> str:
    return "scrape_configs:\n  - job_name: node\n" + "".join(f"    {line}\n" for line in body.strip("\n").splitlines())


def test_valid_minimal_config(tmp_path: Path) -> None:
    report = _check(_job("static_configs:\n  - targets: ['localhost:9100']"), tmp_path)

    assert report.valid
    assert report.findings == []


def test_unknown_field_names_path_and_suggestion(tmp_path: Path) -> None:
    report = _check(_job("scrape_intervall: 15s"), tmp_path)
    finding = report.findings[0]

    assert (finding.rule, finding.path, finding.line, finding.column) == ("unknown-field", "scrape_configs[0].scrape_intervall", 3, 5)
    assert "did you mean scrape_interval?" in finding.fix


def test_unknown_top_level_field(tmp_path: Path) -> None:
    assert _errors("scrape_config:\n  - job_name: a\n", tmp_path) == [("unknown-field", "scrape_config")]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("honor_labels: maybe", "scrape_configs[0].honor_labels"),
        ("sample_limit: -1", "scrape_configs[0].sample_limit"),
        ("sample_limit: lots", "scrape_configs[0].sample_limit"),
        ("static_configs: {targets: [a:1]}", "scrape_configs[0].static_configs"),
        ("static_configs:\n  - targets: [a:1]\n    labels: [x]", "scrape_configs[0].static_configs[0].labels"),
        ("relabel_configs: {action: drop}", "scrape_configs[0].relabel_configs"),
        ("job_name: [a]", "scrape_configs[0].job_name"),
        ("tls_config: true", "scrape_configs[0].tls_config"),
    ],
)
def test_wrong_type(body: str, path: str, tmp_path: Path) -> None:
    assert ("wrong-type", path) in _errors(_job(body), tmp_path)


def test_scalar_types_like_go_strings(tmp_path: Path) -> None:
    report = _check("scrape_configs:\n  - job_name: 123\n    metrics_path: true\n", tmp_path)

    assert report.valid


@pytest.mark.parametrize("value", ["10", "1.5m", "5 m", "1h1h", "-1h", "", "1m30"])
def test_invalid_durations(value: str, tmp_path: Path) -> None:
    assert _errors(f"global:\n  scrape_interval: '{value}'\n", tmp_path) == [("invalid-duration", "global.scrape_interval")]


@pytest.mark.parametrize("value", ["0", "30s", "1h30m", "2d", "1y", "500ms", "1w2d"])
def test_valid_durations(value: str, tmp_path: Path) -> None:
    assert _errors(f"global:\n  evaluation_interval: {value}\n", tmp_path) == []


def test_timeout_above_interval_after_global_default(tmp_path: Path) -> None:
    config = "global:\n  scrape_interval: 5s\n" + _job("scrape_timeout: 6s")

    assert _errors(config, tmp_path) == [("timeout-exceeds-interval", "scrape_configs[0].scrape_timeout")]


def test_timeout_equal_interval_is_fine(tmp_path: Path) -> None:
    assert _errors(_job("scrape_interval: 5s\nscrape_timeout: 5s"), tmp_path) == []


def test_default_timeout_clamped_without_warning(tmp_path: Path) -> None:
    report = _check(_job("scrape_interval: 5s"), tmp_path)

    assert report.findings == []


def test_duplicate_job_names(tmp_path: Path) -> None:
    config = "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n"
    report = _check(config, tmp_path)

    assert [(f.rule, f.path, f.line) for f in report.findings] == [("duplicate-job-name", "scrape_configs[2].job_name", 4)]
    assert "line 2" in report.findings[0].message


def test_job_name_missing(tmp_path: Path) -> None:
    assert _errors("scrape_configs:\n  - scrape_interval: 5s\n", tmp_path) == [("missing-field", "scrape_configs[0].job_name")]


def test_null_scrape_config(tmp_path: Path) -> None:
    assert _errors("scrape_configs:\n  -\n", tmp_path) == [("empty-section", "scrape_configs[0]")]


@pytest.mark.parametrize(
    ("target", "rule"),
    [("http://host:9100", "target-with-scheme"), ("host:9100/metrics", "target-with-path"), ("https://h/x", "target-with-scheme")],
)
def test_target_errors(target: str, rule: str, tmp_path: Path) -> None:
    config = _job(f"static_configs:\n  - targets: ['ok:1', '{target}']")

    assert _errors(config, tmp_path) == [(rule, "scrape_configs[0].static_configs[0].targets[1]")]


@pytest.mark.parametrize("target", ["host:99999", "host:abc", "a b:1", "::1:9100", ""])
def test_target_warnings(target: str, tmp_path: Path) -> None:
    report = _check(_job(f"static_configs:\n  - targets: ['{target}']"), tmp_path)

    assert report.valid
    assert [f.rule for f in report.findings] == ["invalid-target"]


@pytest.mark.parametrize("target", ["host", "host:9100", "[::1]:9100", "10.0.0.1:80"])
def test_target_valid_forms(target: str, tmp_path: Path) -> None:
    assert _check(_job(f"static_configs:\n  - targets: ['{target}']"), tmp_path).findings == []


def test_target_with_slash_allowed_when_relabeled(tmp_path: Path) -> None:
    config = _job("metrics_path: /probe\nstatic_configs:\n  - targets: ['http://example.com/']\nrelabel_configs:\n  - source_labels: [__address__]\n    target_label: __param_target")

    assert _errors(config, tmp_path) == []


@pytest.mark.parametrize("regex", ["foo(?=bar)", "(?<!x)y", "(a)\\1", "(?P<n>a)(?P=n)", "a++"])
def test_regex_rejects_non_re2(regex: str, tmp_path: Path) -> None:
    config = _job(f"relabel_configs:\n  - source_labels: [a]\n    regex: '{regex}'\n    action: keep")

    assert _errors(config, tmp_path) == [("invalid-regex", "scrape_configs[0].relabel_configs[0].regex")]


def test_regex_accepts_re2(tmp_path: Path) -> None:
    config = _job("relabel_configs:\n  - source_labels: [a]\n    regex: '(?i)foo|ba[rz].*\\d+'\n    action: keep")

    assert _errors(config, tmp_path) == []


@pytest.mark.parametrize(
    ("rule_body", "rule"),
    [
        ("action: replace\n    source_labels: [a]", "missing-field"),
        ("action: hashmod\n    target_label: t", "missing-field"),
        ("action: labeldrop\n    regex: a\n    source_labels: [a]", "extra-field"),
        ("action: keepequal\n    target_label: t\n    regex: x", "extra-field"),
        ("action: lowercase\n    target_label: t\n    replacement: x", "extra-field"),
        ("action: frobnicate", "invalid-value"),
        ("action: ''", "missing-field"),
    ],
)
def test_relabel_action_requirements(rule_body: str, rule: str, tmp_path: Path) -> None:
    errors = _errors(_job(f"relabel_configs:\n  - {rule_body}"), tmp_path)

    assert [r for r, _ in errors] == [rule]


@pytest.mark.parametrize("action", ["Replace", "KEEP", "labelmap", "uppercase"])
def test_relabel_valid_actions(action: str, tmp_path: Path) -> None:
    body = f"relabel_configs:\n  - action: {action}\n    source_labels: [a]\n    target_label: b"
    if action == "labelmap":
        body = "relabel_configs:\n  - action: labelmap\n    regex: __meta_(.+)"
    assert _errors(_job(body), tmp_path) == []


def test_label_names_legacy_scheme(tmp_path: Path) -> None:
    config = "global:\n  metric_name_validation_scheme: legacy\n  external_labels:\n    dc-1: x\n"

    assert _errors(config, tmp_path) == [("invalid-label-name", "global.external_labels.dc-1")]


def test_label_names_utf8_scheme_allows_dots(tmp_path: Path) -> None:
    assert _errors("global:\n  external_labels:\n    k8s.cluster: x\n", tmp_path) == []


def test_relabel_target_label_legacy(tmp_path: Path) -> None:
    config = _job("metric_name_validation_scheme: legacy\nmetric_name_escaping_scheme: underscores\nrelabel_configs:\n  - source_labels: [a]\n    target_label: 'a.b'")

    assert _errors(config, tmp_path) == [("invalid-label-name", "scrape_configs[0].relabel_configs[0].target_label")]


@pytest.mark.parametrize(
    ("auth", "rule"),
    [
        ("bearer_token: a\nbearer_token_file: f", "conflicting-fields"),
        ("basic_auth: {username: u}\nbearer_token: t", "conflicting-fields"),
        ("basic_auth: {username: u}\nauthorization: {credentials: c}", "conflicting-fields"),
        ("oauth2: {client_id: c}", "missing-field"),
        ("authorization: {type: Basic, credentials: c}", "invalid-value"),
        ("tls_config: {cert_file: c}", "missing-field"),
        ("no_proxy: localhost", "missing-field"),
        ("proxy_url: 'http://p:3128'\nproxy_from_environment: true", "conflicting-fields"),
        ("proxy_url: 'http://p:port'", "invalid-url"),
        ("http_headers: {Authorization: {values: [x]}}", "reserved-header"),
    ],
)
def test_http_client_checks(auth: str, rule: str, tmp_path: Path) -> None:
    errors = _errors(_job(auth), tmp_path)

    assert [r for r, _ in errors] == [rule]


def test_http_client_valid(tmp_path: Path) -> None:
    body = "basic_auth: {username: u, password_file: p}\ntls_config: {ca_file: ca, insecure_skip_verify: false, min_version: TLS12}\nproxy_url: 'http://proxy:3128'\nno_proxy: localhost\nfollow_redirects: false"

    assert _errors(_job(body), tmp_path) == []


def test_discovery_sections(tmp_path: Path) -> None:
    body = """
kubernetes_sd_configs:
  - role: pod
    namespaces: {names: [default]}
consul_sd_configs:
  - server: 'localhost:8500'
    services: [web]
dns_sd_configs:
  - names: [_prometheus._tcp.example.org]
ec2_sd_configs:
  - region: eu-west-1
    filters: [{name: tag:env, values: [prod]}]
docker_sd_configs:
  - host: unix:///var/run/docker.sock
file_sd_configs:
  - files: ['targets/*.json']
http_sd_configs:
  - url: http://sd.example.org/targets
"""
    assert _errors(_job(body), tmp_path) == []


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("kubernetes_sd_configs:\n  - role: pods", "invalid-value"),
        ("kubernetes_sd_configs:\n  - api_server: 'https://k'\n    role: pod\n    kubeconfig_file: k", "conflicting-fields"),
        ("dns_sd_configs:\n  - names: [a]\n    type: A", "missing-field"),
        ("dns_sd_configs:\n  - type: SRV", "missing-field"),
        ("file_sd_configs:\n  - files: ['targets/*/x.json']", "invalid-file-sd-path"),
        ("http_sd_configs:\n  - url: ftp://x/y", "invalid-url"),
        ("consul_sd_configs:\n  - server: a\n    token: t\n    authorization: {credentials: c}", "conflicting-fields"),
        ("ec2_sd_configs:\n  - filters: [{name: a}]", "missing-field"),
        ("docker_sd_configs:\n  - port: 80", "missing-field"),
    ],
)
def test_discovery_errors(body: str, rule: str, tmp_path: Path) -> None:
    assert [r for r, _ in _errors(_job(body), tmp_path)] == [rule]


def test_alerting_remote_storage_tracing_otlp(tmp_path: Path) -> None:
    config = """
alerting:
  alertmanagers:
    - static_configs: [{targets: ['am:9093']}]
      api_version: v2
  alert_relabel_configs:
    - action: labeldrop
      regex: replica
remote_write:
  - url: http://rw/api/v1/write
    queue_config: {max_shards: 10, min_shards: 1}
    write_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]
remote_read:
  - url: http://rr/api/v1/read
    read_recent: true
storage:
  tsdb: {out_of_order_time_window: 30m}
  exemplars: {max_exemplars: 1000}
tracing:
  endpoint: localhost:4317
  client_type: grpc
otlp:
  promote_resource_attributes: [service.name]
runtime:
  gogc: 50
"""
    assert _errors(config, tmp_path) == []


@pytest.mark.parametrize(
    ("config", "rule", "path"),
    [
        ("alerting:\n  alertmanagers:\n    - api_version: v1\n", "invalid-value", "alerting.alertmanagers[0].api_version"),
        ("remote_write:\n  - name: x\n", "missing-field", "remote_write[0].url"),
        ("remote_write:\n  - url: http://a\n    queue_config: {min_shards: 5, max_shards: 2}\n", "invalid-value", "remote_write[0].queue_config.min_shards"),
        ("remote_write:\n  - url: http://a\n    headers: {Host: x}\n", "reserved-header", "remote_write[0].headers.Host"),
        ("tracing:\n  client_type: http\n", "missing-field", "tracing.endpoint"),
        ("storage:\n  tsdb:\n    retention: {percentage: 101}\n", "invalid-value", "storage.tsdb.retention.percentage"),
        ("rule_files: ['rules/*/*.yml']\n", "invalid-rule-file-glob", "rule_files[0]"),
    ],
)
def test_section_errors(config: str, rule: str, path: str, tmp_path: Path) -> None:
    assert _errors(config, tmp_path) == [(rule, path)]


def test_agent_mode_restrictions(tmp_path: Path) -> None:
    config = "rule_files: [a.yml]\nremote_read:\n  - url: http://r\nalerting:\n  alertmanagers:\n    - static_configs: [{targets: ['a:1']}]\n"

    assert _errors(config, tmp_path) == []
    assert sorted(_errors(config, tmp_path, agent=True)) == [("agent-mode-field", "alerting"), ("agent-mode-field", "remote_read"), ("agent-mode-field", "rule_files")]


def test_rule_files_resolved_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text("groups: []\n")
    config = "rule_files: ['rules/*.yml', 'missing/*.yml']\n"
    report = _check(config, tmp_path, syntax_only=False)

    assert report.valid
    assert [(f.rule, f.path) for f in report.findings] == [("glob-matches-nothing", "rule_files[1]")]


def test_referenced_files_checked_unless_syntax_only(tmp_path: Path) -> None:
    config = _job("basic_auth: {username: u, password_file: secret.txt}\ntls_config: {ca_file: ca.pem}")

    assert _check(config, tmp_path, syntax_only=True).findings == []
    # promtool fails a missing TLS client certificate; Prometheus reads the password and CA files when it scrapes.
    with_client_cert = config.replace("{ca_file: ca.pem}", "{ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}")
    findings = _check(with_client_cert, tmp_path, syntax_only=False).findings
    assert sorted((f.severity, f.rule, f.path) for f in findings) == [
        ("error", "file-not-found", "scrape_configs[0].tls_config.cert_file"),
        ("error", "file-not-found", "scrape_configs[0].tls_config.key_file"),
        ("warning", "file-not-found", "scrape_configs[0].basic_auth.password_file"),
        ("warning", "file-not-found", "scrape_configs[0].tls_config.ca_file"),
    ]
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "ca.pem").write_text("x")
    assert _check(config, tmp_path, syntax_only=False).findings == []


def test_scrape_config_files_jobs_checked(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "a.yml").write_text("scrape_configs:\n  - job_name: node\n    scrape_timeout: 2m\n")
    config = "scrape_config_files: ['jobs/*.yml']\n" + _job("static_configs: [{targets: ['a:1']}]")
    report = _check(config, tmp_path)
    rules = sorted((f.rule, f.file.endswith("a.yml")) for f in report.findings)

    assert rules == [("duplicate-job-name", True), ("timeout-exceeds-interval", True)]


def test_scrape_config_files_paths_relative_to_included_file(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "a.yml").write_text("scrape_configs:\n  - job_name: a\n    bearer_token_file: token\n")
    config = "scrape_config_files: ['jobs/*.yml']\n"

    assert [(f.rule, f.path) for f in _check(config, tmp_path, syntax_only=False).findings] == [("file-not-found", "scrape_configs[0].bearer_token_file")]
    (tmp_path / "jobs" / "token").write_text("t")
    assert _check(config, tmp_path, syntax_only=False).findings == []


SECRET = "hunter2-very-secret"


@pytest.mark.parametrize(
    "config",
    [
        _job(f"basic_auth:\n  username: u\n  password: [{SECRET}]"),
        _job(f"bearer_token: {SECRET}\nbearer_token_file: /t"),
        _job(f"authorization:\n  credentials: {SECRET}\n  credentials_file: /c"),
        _job(f"oauth2:\n  client_secret: {SECRET}"),
        f"global:\n\tpassword: {SECRET}\n",
        _job(f"static_configs:\n  - targets: ['http://user:{SECRET}@host:9100']"),
        _job(f"bearer_token: {{{SECRET}: 1}}"),
        _job(f"oauth2:\n  client_id: c\n  token_url: http://t\n  client_secret: '{SECRET}'\n  client_secret: '{SECRET}'"),
        f"scrape_configs:\n  - job_name: a\n    consul_sd_configs:\n      - token: \"{SECRET}\n",
    ],
)
def test_secrets_never_in_output(config: str, tmp_path: Path) -> None:
    report = _check(config, tmp_path)
    text = "\n".join(f.format_text() for f in report.findings)

    assert report.findings
    assert SECRET not in text
    assert SECRET not in json.dumps(report.to_dict())


UUID = "0b4b1d7e-52c4-4b8e-9d34-4b3c2a1f6e10"


def _remote_write(block: str) -> str:
    return "remote_write:\n  - url: http://127.0.0.1:9/write\n" + "".join(f"    {line}\n" for line in block.strip("\n").splitlines())


@pytest.mark.parametrize(
    "block",
    [
        f"azuread:\n  managed_identity:\n    client_id: {UUID}",
        "azuread:\n  managed_identity: {}",
        f"azuread:\n  cloud: AzureChina\n  oauth: {{client_id: '{{{UUID}}}', client_secret: s, tenant_id: contoso.onmicrosoft.com}}",
        f"azuread:\n  workload_identity: {{client_id: {UUID.replace('-', '')}, tenant_id: 'urn:uuid:{UUID}'}}",
        "azuread:\n  sdk: {tenant_id: contoso}\n  scope: 'https://monitor.azure.com/.default'",
        f"azuread:\n  certificate: {{client_id: {UUID}, tenant_id: t, certificate_path: /etc/cert.pem}}",
        "sigv4: {region: eu-west-1}",
        "sigv4: {access_key: AKIA, secret_key: s, role_arn: 'arn:aws:iam::1:role/r', external_id: e}",
        "google_iam: {credentials_file: /etc/google.json}",
    ],
    ids=["managed identity", "managed identity without id", "oauth", "workload identity", "sdk with scope", "certificate", "sigv4 region", "sigv4 keys", "google_iam"],
)
def test_cloud_auth_valid(block: str, tmp_path: Path) -> None:
    assert _errors(_remote_write(block), tmp_path) == []


@pytest.mark.parametrize(
    ("block", "expected", "message"),
    [
        ("azuread:\n  cloud: Mars\n  sdk: {}", ("invalid-value", "remote_write[0].azuread.cloud"), "must provide a cloud"),
        ("azuread:\n  cloud: AzurePublic", ("missing-field", "remote_write[0].azuread"), "must provide an Azure Managed Identity"),
        ("azuread:\n  sdk: {}\n  managed_identity: {}", ("conflicting-fields", "remote_write[0].azuread.sdk"), "cannot provide multiple authentication methods"),
        ("azuread:\n  managed_identity: {client_id: abc}", ("invalid-value", "remote_write[0].azuread.managed_identity.client_id"), "Managed Identity client_id is invalid"),
        (f"azuread:\n  oauth: {{client_id: {UUID}, tenant_id: t}}", ("missing-field", "remote_write[0].azuread.oauth.client_secret"), "must provide an Azure OAuth client_secret"),
        (f"azuread:\n  workload_identity: {{client_id: {UUID}, tenant_id: contoso}}", ("invalid-value", "remote_write[0].azuread.workload_identity.tenant_id"), "Workload Identity tenant_id is invalid"),
        (f"azuread:\n  certificate: {{client_id: {UUID}, tenant_id: t}}", ("missing-field", "remote_write[0].azuread.certificate.certificate_path"), "certificate_path"),
        ("azuread:\n  sdk: {}\n  scope: 'a;b'", ("invalid-value", "remote_write[0].azuread.scope"), "scope contains invalid characters"),
        ("sigv4: {access_key: AKIA}", ("missing-field", "remote_write[0].sigv4.secret_key"), "Access key and Secret Key"),
        ("sigv4: {secret_key: s}", ("missing-field", "remote_write[0].sigv4.access_key"), "Access key and Secret Key"),
        ("sigv4: {external_id: e}", ("missing-field", "remote_write[0].sigv4.external_id"), "external_id can only be used with role_arn"),
    ],
    ids=["cloud", "no method", "two methods", "managed identity uuid", "oauth secret", "workload tenant uuid", "certificate path", "scope", "sigv4 secret", "sigv4 access", "sigv4 external id"],
)
def test_cloud_auth_invalid(block: str, expected: tuple[str, str], message: str, tmp_path: Path) -> None:
    findings = [f for f in _check(_remote_write(block), tmp_path).findings if f.is_error]

    assert [(f.rule, f.path) for f in findings] == [expected]
    assert message in findings[0].message


def test_sigv4_on_alertmanager_checked(tmp_path: Path) -> None:
    text = "alerting:\n  alertmanagers:\n    - sigv4: {access_key: AKIA}\n      static_configs: [{targets: ['127.0.0.1:9093']}]\n"

    assert _errors(text, tmp_path) == [("missing-field", "alerting.alertmanagers[0].sigv4.secret_key")]


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [a:1, b:2\n    relabel_configs: []\n", "which started at line 4, column 18", "close the bracket"),
        ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: *foo\n", "undefined alias", "quote it"),
        ("global:\n  external_labels:\n    owner: @team\n", "cannot start any token", "cannot start with @"),
    ],
    ids=["unclosed bracket", "alias", "at sign"],
)
def test_syntax_error_fix_hints(text: str, message: str, fix: str, tmp_path: Path) -> None:
    findings = [f for f in _check(text, tmp_path).findings if f.rule == "yaml-syntax"]

    assert len(findings) == 1
    assert message in findings[0].message
    assert fix in findings[0].fix


def test_missing_space_after_colon_hint(tmp_path: Path) -> None:
    findings = _check("global:\n  scrape_interval:15s\n", tmp_path).findings

    assert [(f.rule, f.path) for f in findings] == [("wrong-type", "global")]
    assert "add a space after the colon: 'scrape_interval: 15s'" in findings[0].fix


def test_excerpt_of_huge_line_windowed(tmp_path: Path) -> None:
    text = "scrape_configs: " + "[" * 5000 + "\n"

    findings = [f for f in _check(text, tmp_path).findings if f.excerpt]

    assert findings
    assert all(len(line) < 200 for f in findings for line in f.excerpt.splitlines())


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("rules: [a.yml]\n", "did you mean rule_files?"),
        ("alertmanagers: []\n", "move alertmanagers under alerting"),
        ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: repalce\n        target_label: x\n", "did you mean replace?"),
    ],
    ids=["rules", "alertmanagers", "action typo"],
)
def test_common_mistake_suggestions(text: str, fix: str, tmp_path: Path) -> None:
    findings = [f for f in _check(text, tmp_path).findings if f.is_error]

    assert len(findings) == 1
    assert fix in findings[0].fix


def test_target_fix_keeps_scheme_and_query(tmp_path: Path) -> None:
    text = _job("scheme: https\nstatic_configs:\n  - targets: ['http://app:8080/metrics?x=1', 'web:8080/metrics']")

    fixes = [f.fix for f in _check(text, tmp_path).findings if f.is_error]

    assert fixes[0] == "remove 'http://': write 'app:8080' and set scheme: http on the job (it is https now), and move the path /metrics to metrics_path, and the query x=1 to params"
    assert fixes[1] == "write 'web:8080' as the target, and move the path /metrics to metrics_path"


def test_fraction_duration_and_regex_list_hints(tmp_path: Path) -> None:
    text = _job("scrape_timeout: 0.5\nrelabel_configs:\n  - source_labels: [__name__]\n    regex: [go_.*, process_.*]\n    action: drop")

    fixes = {f.path: f.fix for f in _check(text, tmp_path).findings}

    assert fixes["scrape_configs[0].scrape_timeout"] == "add a unit and use whole numbers: 500ms if 0.5 means seconds"
    assert fixes["scrape_configs[0].relabel_configs[0].regex"] == "write one regular expression with alternatives: 'go_.*|process_.*'"


def test_absolute_path_not_relative(tmp_path: Path) -> None:
    text = "rule_files: ['/nonexistent/rules/*.yml']\n" + _job("basic_auth: {username: u, password_file: /nonexistent/pw}")

    messages = [f.message for f in _check(text, tmp_path, syntax_only=False).findings]

    assert len(messages) == 2
    assert all("relative to" not in message for message in messages)
