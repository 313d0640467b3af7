"""Payment methods: one interface (:mod:`.interface`) and an adapter per provider (Vipps Recurring v3)."""
