"""The target checker: which scrape targets would fail, and exactly why.

``config`` reads scrape jobs from a Prometheus config, ``relabel`` and ``discovery`` turn them
into targets and scrape URLs, ``prometheus_api`` reads them from a running Prometheus instead,
``scrape`` fetches each target as Prometheus 2.42 does and assigns a reason from ``reasons``,
``health`` checks health endpoints, ``report`` runs it all, and ``loop`` runs it in the daemon.
"""
