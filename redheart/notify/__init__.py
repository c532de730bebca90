"""Notifications: what a run says when it finishes, fails or stalls, and sending it."""
