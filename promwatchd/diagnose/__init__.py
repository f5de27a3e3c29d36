"""Evidence about a failing Prometheus: who holds its port, the state of its data directory."""
