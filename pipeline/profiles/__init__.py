"""Profiles for real-time consumers: the current state of each person, as they change."""
