"""Simulators: an AMI-speaking Asterisk over TCP and a virtual-time pacing simulator."""
