"""Non-HTTP Lambdas: one module per function; each handler parses its event, calls one service, and
reports partial batch failures where it consumes a queue."""
