"""Catalog: products, plans, offers, and the VAT rates they are sold under."""
