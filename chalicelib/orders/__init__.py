"""Orders: an offer, a payment method and a customer become a running subscription and its first invoice."""
