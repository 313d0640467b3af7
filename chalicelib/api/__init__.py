"""HTTP routes as Chalice blueprints, their request/response schemas, and the edge's policies
(problem JSON, authentication, idempotent POSTs, OpenAPI)."""
