"""Local stand-ins for external providers, for tests and ``make run``. Nothing here runs in production."""
