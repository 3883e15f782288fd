"""Sessionization: per person, across devices and channels, in event time."""
