"""Metric family rules: grouping, metadata, duplicate series and the structure of each type.

``FamilyTracker`` receives the parsed lines in order. It keeps the state of the current metric
family only (its metadata, its metrics and their series keys), and frees it when the family
ends. For the whole payload it keeps the family and sample names already used, to find a
family split into two groups, so that set grows with the number of families.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from promwatchd.exposition.findings import Severity
from promwatchd.exposition.lint import lint_family
from promwatchd.exposition.syntax import LabelSet, Sample, sample_from_parts, show

TEXT_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
OPENMETRICS_TYPES = ("counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary", "unknown")

# The sample names of a family are the family name plus one of these suffixes.
TEXT_SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
}
OPENMETRICS_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "unknown": ("",),
    "stateset": ("",),
    "info": ("_info",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
}
HISTOGRAM_TYPES = ("histogram", "gaugehistogram")
_ALL_SUFFIXES = frozenset(suffix for suffixes in OPENMETRICS_SUFFIXES.values() for suffix in suffixes if suffix)

Report = Callable[[int, int, str, Severity, str], None]


def format_bound(value: float) -> str:
    """Return a bucket bound as the exposition formats write it (+Inf, -Inf, 0.5)."""
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return f"{value:g}"


class MetricState:
    """One metric (one label set, ignoring ``le``/``quantile``) of a histogram or summary family."""

    __slots__ = (
        "first_line", "last_le", "last_bucket_value", "inf_bucket_value", "has_negative_le", "has_buckets", "count", "sum",
    )

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line
        self.last_le = -math.inf
        self.last_bucket_value = -math.inf
        self.inf_bucket_value: float | None = None
        self.has_negative_le = False
        self.has_buckets = False
        self.count: float | None = None
        self.sum: float | None = None


class MetricFamily:
    """The state of the current metric family: metadata, sample names and the series seen in it."""

    __slots__ = (
        "name", "first_line", "type", "type_line", "help_line", "help_text", "unit_line", "has_samples",
        "repeats_earlier_group", "sample_suffixes", "label_names", "metric_key_label", "checks_samples",
        "metrics", "series", "current_metric", "finished_metrics",
    )

    def __init__(self, name: str, first_line: int) -> None:
        self.name = name
        self.first_line = first_line
        self.type: str | None = None
        self.type_line = 0
        self.help_line = 0
        self.help_text = ""
        self.unit_line = 0
        self.has_samples = False
        self.repeats_earlier_group = False
        self.sample_suffixes: dict[str, str | None] = {name: ""}
        self.label_names: set[str] = set()
        self.metric_key_label: dict[str | None, str] = {}
        """Per sample suffix, the label whose values distinguish the samples of one metric (le, quantile, the stateset label)."""
        self.checks_samples = False
        """Whether samples of this family's type have type-specific rules."""
        self.metrics: dict[tuple, MetricState] = {}
        # NOTE: the series keys of the current family stay in memory until the family ends, so a
        # single family with millions of series needs memory in proportion to them.
        self.series: dict[tuple, float | None] = {}
        self.current_metric: tuple | None = None
        self.finished_metrics: set[tuple] = set()




class FamilyTracker:
    """Checks the rules that span lines, for one payload in one format."""

    def __init__(self, openmetrics: bool, report: Report, lint: bool = True) -> None:
        self.openmetrics = openmetrics
        self.lint = lint
        self.report = report
        self.suffixes = OPENMETRICS_SUFFIXES if openmetrics else TEXT_SUFFIXES
        self.default_type = "unknown" if openmetrics else "untyped"
        self.types_with_rules = frozenset(
            (*HISTOGRAM_TYPES, "summary", "stateset", "counter", "info") if openmetrics else (*HISTOGRAM_TYPES, "summary")
        )
        """Types for which ``_set_type_rules`` sets something; a family of another type keeps the defaults of ``MetricFamily``."""
        self.single_name_types = frozenset(name for name, suffixes in self.suffixes.items() if suffixes == ("",))
        """Types whose only sample name is the family name, which ``MetricFamily`` starts with."""
        self.current: MetricFamily | None = None
        self.claimed_names: dict[str, tuple[str, int, bool]] = {}
        """Every family and sample name used so far: name -> (family name, its first line, whether it had metadata).

        A family without HELP, TYPE or UNIT lines that appears in two groups is not reported: without
        metadata, ``x`` and ``x_sum`` may be separate untyped families, and neither Prometheus nor
        promtool rejects the split. A split family with metadata is reported.
        """
        self._pending_split: tuple[str, int, bool] | None = None

    # --- metadata lines: # HELP, # TYPE, # UNIT ---

    def on_help(self, name: str, text: str, line: int) -> None:
        family = self.current
        if family is None or family.name != name:
            family = self._start_family(name, line)
        if family.help_line:
            self._error(line, 1, "duplicate-help", f"second HELP line for metric family {show(name)} (the first is on line {family.help_line}): keep one")
            return
        if family.has_samples and self.openmetrics:
            self._metadata_after_samples(family, "HELP", line)
            return
        family.help_line = line
        family.help_text = text

    def on_type(self, name: str, type_name: str, line: int) -> None:
        family = self.current
        if family is None or family.name != name:
            family = self._start_family(name, line)
        if family.type_line:
            consumers = (
                "" if self.openmetrics
                else ". Prometheus 2.x ingests this, but promtool, federation and other expfmt-based consumers reject it"
            )
            self._error(
                line, 1, "duplicate-type",
                f"second TYPE line for metric family {show(name)} (the first is on line {family.type_line}): all samples "
                f"of a family must form one group under a single HELP and TYPE line{consumers}",
            )
            return
        if family.has_samples:
            self._error(
                line, 1, "type-after-samples",
                f"TYPE line for metric family {show(name)} comes after its samples (first sample group on line "
                f"{family.first_line}): put HELP and TYPE before the samples",
            )
            return
        family.type = type_name
        family.type_line = line
        if type_name in self.types_with_rules or type_name not in self.single_name_types:
            self._claim_sample_names(family, line)
            self._set_type_rules(family)

    def on_unit(self, name: str, unit: str, line: int) -> None:
        family = self._family_for_metadata(name, line)
        if family.unit_line:
            self._error(line, 1, "duplicate-unit", f"second UNIT line for metric family {show(name)} (the first is on line {family.unit_line}): keep one")
            return
        if family.has_samples:
            self._metadata_after_samples(family, "UNIT", line)
            return
        family.unit_line = line
        if unit and not name.endswith("_" + unit):
            self._error(
                line, 1, "om-unit-not-suffix",
                f"metric family {show(name)} has unit {show(unit)} but its name does not end with {show('_' + unit)}: "
                f"rename the family to {name}_{unit} or fix the unit",
            )

    def _metadata_after_samples(self, family: MetricFamily, keyword: str, line: int) -> None:
        self._error(
            line, 1, "om-metadata-after-samples",
            f"{keyword} line for metric family {show(family.name)} comes after its samples: OpenMetrics requires "
            "HELP, TYPE and UNIT before the first sample of the family",
        )

    def _family_for_metadata(self, name: str, line: int) -> MetricFamily:
        if self.current is not None and self.current.name == name:
            return self.current
        return self._start_family(name, line)

    # --- sample lines ---

    def on_sample(self, sample: Sample, line: int) -> None:
        labels = sample.labels
        sorted_labels = tuple(sorted(labels)) if len(labels) > 1 else labels
        self.on_sample_parts(sample.name, labels, sorted_labels, sample.timestamp, line, sample, None)

    def on_sample_parts(
        self,
        name: str,
        labels: LabelSet,
        sorted_labels: LabelSet,
        timestamp: float | None,
        line: int,
        sample: Sample | None,
        match: re.Match[str] | None,
    ) -> None:
        """Check one sample line, given as a ``Sample`` or as the parts of a fast-path ``match``.

        The fast path of the validator passes ``sample`` None, and the ``Sample`` is built from
        ``match`` only when a rule needs it, which the common counter and gauge samples do not.
        """
        family = self.current
        if family is None or name not in family.sample_suffixes:
            family = self._family_for_unexpected_sample(name, line)
        family.has_samples = True

        metric_key = sorted_labels
        if labels:
            if self.lint:
                family.label_names.update(dict(labels))
            if family.metric_key_label:
                ignored = family.metric_key_label.get(family.sample_suffixes[name])
                if ignored is not None:
                    metric_key = tuple(pair for pair in sorted_labels if pair[0] != ignored)

        interleaved = False
        if self.openmetrics and metric_key != family.current_metric:
            interleaved = self._switch_metric(family, name, metric_key, line)

        series_key = (name, sorted_labels)
        series = family.series
        if series_key in series and not interleaved:
            if sample is None:
                sample = sample_from_parts(name, labels, timestamp, match)
            self._check_repeated_series(family, sample, metric_key, series[series_key], line)
        series[series_key] = timestamp

        if family.checks_samples or sample is not None and sample.exemplar is not None:
            suffix = family.sample_suffixes[name]
            if suffix is not None:
                if sample is None:
                    sample = sample_from_parts(name, labels, timestamp, match)
                self._check_sample_for_type(family, family.type or self.default_type, suffix, sample, metric_key, line)

    def _switch_metric(self, family: MetricFamily, name: str, metric_key: tuple, line: int) -> bool:
        """Start the next metric of an OpenMetrics family; return whether that metric appeared before (interleaved)."""
        if metric_key in family.finished_metrics:
            self._error(
                line, 1, "om-metric-interleaved",
                f"samples of metric {self._describe_metric(name, metric_key)} appear again after another label set "
                f"of family {show(family.name)}: OpenMetrics requires the samples of one label set to be adjacent",
            )
            family.current_metric = metric_key
            return True
        if family.current_metric is not None:
            family.finished_metrics.add(family.current_metric)
        family.current_metric = metric_key
        return False

    def _family_for_unexpected_sample(self, name: str, line: int) -> MetricFamily:
        """Return the family of a sample whose name does not belong to the current family."""
        family = self.current
        if self.openmetrics and family is not None and family.type is not None and self._looks_like_member(name, family.name):
            names = " and ".join(family.name + suffix for suffix in self.suffixes[family.type])
            self._error(
                line, 1, "om-sample-name-mismatch",
                f"sample {show(name)} does not fit the {family.type} family {show(family.name)}: its samples are named {names}",
            )
            family.sample_suffixes.setdefault(name, None)  # type: ignore[arg-type]
            return family
        family = self._start_family(name, line)
        family.sample_suffixes[name] = ""
        return family

    @staticmethod
    def _looks_like_member(name: str, family_name: str) -> bool:
        """Return whether ``name`` is the family name or the family name plus a suffix some type uses."""
        return name == family_name or name.startswith(family_name) and name[len(family_name):] in _ALL_SUFFIXES

    def _set_type_rules(self, family: MetricFamily) -> None:
        family_type = family.type or self.default_type
        if family_type in HISTOGRAM_TYPES:
            family.metric_key_label = {"_bucket": "le"}
        elif family_type == "summary":
            family.metric_key_label = {"": "quantile"}
        elif family_type == "stateset":
            family.metric_key_label = {"": family.name}
        family.checks_samples = family_type in HISTOGRAM_TYPES or family_type == "summary" or (
            self.openmetrics and family_type in ("counter", "stateset", "info")
        )

    def _check_repeated_series(self, family: MetricFamily, sample: Sample, metric_key: tuple, previous: float | None, line: int) -> None:
        timestamp = sample.timestamp
        described = self._describe_metric(sample.name, sample.labels)
        if previous is None or timestamp is None or (not self.openmetrics and previous == timestamp):
            self._error(
                line, 1, "duplicate-series",
                f"series {described} appears more than once: Prometheus keeps the first sample and rejects the others "
                "(\"duplicate sample for timestamp\"); remove the repeated line or give it a different label set",
            )
            return
        if self.openmetrics and timestamp <= previous:
            self._error(
                line, 1, "om-timestamp-order",
                f"series {described} repeats with timestamp {timestamp:g}, not after the previous {previous:g}: "
                "OpenMetrics requires increasing timestamps within a metric",
            )
            return
        # A later timestamp starts a new point of the same metric: check the previous one.
        state = family.metrics.pop(metric_key, None)
        if state is not None:
            self._check_metric_structure(family, metric_key, state)

    # --- type-specific rules ---

    def _check_sample_for_type(self, family: MetricFamily, family_type: str, suffix: str, sample: Sample, metric_key: tuple, line: int) -> None:
        openmetrics = self.openmetrics
        value = sample.value
        if openmetrics and sample.exemplar is not None:
            if not (family_type == "counter" and suffix == "_total" or family_type in HISTOGRAM_TYPES and suffix == "_bucket"):
                self._error(
                    line, sample.exemplar.column + 1, "om-exemplar-not-allowed",
                    f"exemplar on sample {show(sample.name)} of {family_type} family {show(family.name)}: OpenMetrics allows exemplars "
                    "only on counter _total samples and histogram _bucket samples; remove it",
                )
        if family_type in HISTOGRAM_TYPES:
            self._check_histogram_sample(family, family_type, suffix, sample, metric_key, line)
        elif family_type == "summary":
            self._check_summary_sample(family, suffix, sample, metric_key, line)
        elif not openmetrics:
            return
        elif family_type == "counter":
            if suffix == "_total" and (value != value or value < 0):
                self._error(line, sample.value_column + 1, "om-counter-invalid-value", f"counter {show(sample.name)} has value {value}: counter totals must not be negative or NaN")
        elif family_type == "stateset":
            if not any(label_name == family.name for label_name, _ in sample.labels):
                self._error(line, 1, "om-stateset-missing-label", f"stateset sample {show(sample.name)} has no label {show(family.name)}: each state is a value of the label named after the family")
            if value != 0 and value != 1:
                self._error(line, sample.value_column + 1, "om-stateset-invalid-value", f"stateset sample {show(sample.name)} has value {value}: a state is 1 (true) or 0 (false)")
        elif family_type == "info":
            if value != 1:
                self._error(line, sample.value_column + 1, "om-info-invalid-value", f"info sample {show(sample.name)} has value {value}: info samples always have the value 1")

    def _check_histogram_sample(self, family: MetricFamily, family_type: str, suffix: str, sample: Sample, metric_key: tuple, line: int) -> None:
        state = family.metrics.get(metric_key)
        if state is None:
            state = family.metrics[metric_key] = MetricState(line)
        value = sample.value
        column = sample.value_column + 1
        if suffix == "_bucket":
            self._check_bucket(family, sample, state, line)
            return
        if suffix in ("_count", "_gcount"):
            state.count = value
            if self.openmetrics and (value != value or value < 0):
                self._error(line, column, "om-histogram-invalid-count", f"{show(sample.name)} has value {value}: a histogram count must not be negative or NaN")
        elif suffix in ("_sum", "_gsum"):
            state.sum = value
            if self.openmetrics and value != value:
                self._error(line, column, "om-histogram-invalid-sum", f"{show(sample.name)} is NaN: a histogram sum must be a number")
            elif self.openmetrics and family_type == "histogram" and value < 0:
                self._error(
                    line, column, "om-histogram-invalid-sum",
                    f"{show(sample.name)} is negative ({value}): the sum of a histogram is a counter and must not be "
                    "negative; for negative observations use buckets without _sum and _count, or a gaugehistogram",
                )

    def _check_bucket(self, family: MetricFamily, sample: Sample, state: MetricState, line: int) -> None:
        le_text = None
        for label_name, label_value in sample.labels:
            if label_name == "le":
                le_text = label_value
                break
        if le_text is None:
            self._error(line, 1, "histogram-bucket-missing-le", f"histogram bucket {show(sample.name)} has no 'le' label: add le=\"UPPER_BOUND\"")
            return
        try:
            le = float(le_text)
        except ValueError:
            le = math.nan
        if le != le or le_text.strip() != le_text or "_" in le_text:
            self._error(line, 1, "histogram-invalid-le", f"histogram bucket {show(sample.name)} has le={show(le_text)}: the upper bound must be a number such as 0.5 or +Inf")
            return

        value = sample.value
        if self.openmetrics and (value != value or value < 0):
            self._error(line, sample.value_column + 1, "om-histogram-invalid-bucket", f"bucket le={show(le_text)} of {show(family.name)} has value {value}: bucket counts must not be negative or NaN")
        if state.has_buckets and le <= state.last_le:
            self._error(
                line, 1, "histogram-bucket-order",
                f"bucket le={show(le_text)} of {show(family.name)} comes after a bucket with an upper bound of "
                f"{format_bound(state.last_le)} or more: write the buckets in increasing order of le",
            )
        elif state.has_buckets and value < state.last_bucket_value:
            self._error(
                line, sample.value_column + 1, "histogram-bucket-not-cumulative",
                f"bucket le={show(le_text)} of {show(family.name)} has count {value:g}, less than the previous bucket's "
                f"{state.last_bucket_value:g}: bucket counts are cumulative and must not decrease",
            )

        state.has_buckets = True
        state.last_le = le
        state.last_bucket_value = value
        if le < 0:
            state.has_negative_le = True
        if le == math.inf:
            state.inf_bucket_value = value

    def _check_summary_sample(self, family: MetricFamily, suffix: str, sample: Sample, metric_key: tuple, line: int) -> None:
        value = sample.value
        column = sample.value_column + 1
        if suffix == "":
            quantile_text = None
            for label_name, label_value in sample.labels:
                if label_name == "quantile":
                    quantile_text = label_value
                    break
            if quantile_text is None:
                self._error(line, 1, "summary-missing-quantile", f"summary sample {show(sample.name)} has no 'quantile' label: add quantile=\"0.5\" (or similar), or name the sample _sum or _count")
                return
            try:
                quantile = float(quantile_text)
            except ValueError:
                quantile = math.nan
            if not 0 <= quantile <= 1:
                self._error(line, 1, "summary-invalid-quantile", f"summary {show(family.name)} has quantile={show(quantile_text)}: a quantile is a number from 0 to 1")
            elif self.openmetrics and value < 0:
                self._error(line, column, "om-summary-invalid-value", f"quantile {quantile_text} of summary {show(family.name)} is negative ({value}): OpenMetrics summary quantile values must not be negative")
            return
        if not self.openmetrics or suffix == "_created":
            return
        if value != value or value < 0:
            self._error(line, column, "om-summary-invalid-value", f"{show(sample.name)} has value {value}: summary counts and sums must not be negative or NaN")

    def _check_metric_structure(self, family: MetricFamily, metric_key: tuple, state: MetricState) -> None:
        """Check a finished histogram metric: +Inf bucket, _count against +Inf, _sum rules."""
        if family.type not in HISTOGRAM_TYPES:
            return
        described = self._describe_metric(family.name, metric_key)
        count_name = "_gcount" if family.type == "gaugehistogram" else "_count"
        sum_name = "_gsum" if family.type == "gaugehistogram" else "_sum"
        if state.inf_bucket_value is None:
            self._error(
                state.first_line, 1, "histogram-missing-inf-bucket",
                f"histogram {described} has no bucket with le=\"+Inf\": add it, with the same value as {count_name}",
            )
        elif state.count is not None and state.count != state.inf_bucket_value:
            self._error(
                state.first_line, 1, "histogram-count-mismatch",
                f"histogram {described} has {count_name} {state.count:g} but its le=\"+Inf\" bucket is "
                f"{state.inf_bucket_value:g}: the two must be equal",
            )
        if not self.openmetrics:
            return
        if state.sum is not None and state.count is None:
            self._error(state.first_line, 1, "om-histogram-sum-without-count", f"histogram {described} has {sum_name} but no {count_name}: expose both or neither")
        if family.type == "histogram" and state.has_negative_le and state.sum is not None:
            self._error(
                state.first_line, 1, "om-histogram-sum-with-negative-buckets",
                f"histogram {described} has buckets with negative upper bounds and a _sum: OpenMetrics forbids _sum "
                "then, because the sum is no longer a counter; drop _sum or use a gaugehistogram",
            )

    # --- families ---

    def _start_family(self, name: str, line: int) -> MetricFamily:
        self.finish_family()
        claimed = self.claimed_names.get(name)
        family = MetricFamily(name, line)
        self.current = family
        if claimed is None:
            self.claimed_names[name] = (name, line, False)
        else:
            self._pending_split = claimed
            family.repeats_earlier_group = claimed[0] == name
        return family

    def _check_split(self, family: MetricFamily, line: int) -> None:
        """Report a family that repeats an earlier family's name, once the new group has metadata or a sample."""
        claimed = self._pending_split
        if claimed is None:
            return
        self._pending_split = None
        owner, owner_line, owner_has_metadata = claimed
        has_metadata = bool(family.help_line or family.type_line or family.unit_line)
        if owner != family.name and has_metadata:
            self._error(
                line, 1, "metric-family-name-clash",
                f"metric family {show(family.name)} clashes with family {show(owner)} (line {owner_line}), which already "
                f"uses the name {show(family.name)} for its samples: rename one of them",
            )
        elif owner != family.name:
            self._error(
                line, 1, "metric-family-not-contiguous",
                f"sample {show(family.name)} of metric family {show(owner)} (first group on line {owner_line}) appears "
                f"on line {line}, after other families: keep all lines of a family together under one HELP and TYPE line",
            )
        elif owner_has_metadata or has_metadata:
            self._error(
                line, 1, "metric-family-not-contiguous",
                f"metric family {show(family.name)} continues on line {line}, but its first group starts on line "
                f"{owner_line} and other families come between: keep all lines of a family together under "
                "one HELP and TYPE line",
            )

    def _claim_sample_names(self, family: MetricFamily, line: int) -> None:
        family.sample_suffixes = {family.name + suffix: suffix for suffix in self.suffixes.get(family.type or "", ("",))}
        for sample_name in family.sample_suffixes:
            if sample_name == family.name:
                continue
            claimed = self.claimed_names.get(sample_name)
            if claimed is not None and claimed[0] != family.name:
                self._error(
                    line, 1, "metric-family-name-clash",
                    f"{family.type} family {show(family.name)} has samples named {show(sample_name)}, which family "
                    f"{show(claimed[0])} (line {claimed[1]}) already uses: rename one of them",
                )
            else:
                self.claimed_names[sample_name] = (family.name, family.first_line, True)

    def finish_family(self) -> None:
        """End the current family: check its remaining metrics and its naming conventions."""
        family = self.current
        if family is None:
            return
        self.current = None
        if self._pending_split is not None:
            self._check_split(family, family.first_line)
        if family.help_line or family.type_line or family.unit_line:
            if self.claimed_names.get(family.name, ("",))[0] == family.name:
                self.claimed_names[family.name] = (family.name, family.first_line, True)
        if family.metrics:
            for metric_key, state in family.metrics.items():
                self._check_metric_structure(family, metric_key, state)
        if family.repeats_earlier_group or not self.lint:
            return
        family_type = family.type or self.default_type
        for message, rule in lint_family(family.name, family_type, bool(family.help_text.strip()), family.label_names, self.openmetrics):
            self.report(family.first_line, 1, rule, Severity.LINT, message)

    def _error(self, line: int, column: int, rule: str, message: str) -> None:
        self.report(line, column, rule, Severity.ERROR, message)

    @staticmethod
    def _describe_metric(name: str, labels: tuple) -> str:
        if not labels:
            return name
        return name + "{" + ",".join(f'{label_name}="{label_value}"' for label_name, label_value in labels) + "}"
