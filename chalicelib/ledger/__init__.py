"""Accounts receivable ("kundereskontro"): every customer's open items, balance and ledger entries."""
