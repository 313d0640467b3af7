"""Customers: who pays, and the identifiers (organisation numbers, e-mail, phone) that name them."""
