"""The platform's own services: the test clock, health and the scheduler heartbeat."""
