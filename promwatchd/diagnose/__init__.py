"""Evidence about a failing Prometheus: the owner of its port, the state of its data directory."""
