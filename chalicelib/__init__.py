"""Abo: domain, services, storage and providers. Knows nothing of HTTP or Lambda events."""
