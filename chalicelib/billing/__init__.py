"""Billing: periods, proration, invoice building, numbering and payment references (KID)."""
