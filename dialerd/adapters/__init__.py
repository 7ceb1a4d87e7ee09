"""Thin I/O adapters at the edge: AMI, store, MQTT, metrics, systemd."""
