"""Notifications: alert transitions → a persistent outbox → channels (see docs/notifications.md)."""
