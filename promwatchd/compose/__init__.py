"""Docker Compose support: read a compose file with positions, lint it, and order restarts by its dependency graph."""
