"""A program written against the acoupi 0.8 API only (see program.py)."""
