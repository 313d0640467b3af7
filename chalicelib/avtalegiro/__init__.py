"""AvtaleGiro: mandates from Nets, the daily claim file, deletions, and unpaid claims for dunning."""
