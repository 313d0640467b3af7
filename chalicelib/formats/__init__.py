"""File formats: what banks and providers send us and what we send them, parsed and validated whole."""
