"""Notifications to customers: templates in four languages, rendering, the local outbox and sending by
e-mail (SES) and SMS (SNS), each message at most once per message key."""
