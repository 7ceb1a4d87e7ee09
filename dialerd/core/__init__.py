"""The pure domain: state machines, pacing, scheduling and compliance (stdlib only)."""
