"""acoupi: autonomous bioacoustic monitoring on small Linux computers."""

__version__ = "1.0.0.dev0"
