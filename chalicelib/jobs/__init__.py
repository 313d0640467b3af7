"""Scheduled and queued work: what template.yaml wires, and running it on the platform clock."""
