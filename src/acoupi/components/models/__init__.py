"""Placeholder package for detection models shipped with acoupi (none yet)."""
