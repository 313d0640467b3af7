"""Subscriptions: a customer's running agreement for products on a plan, and its payment agreement."""
