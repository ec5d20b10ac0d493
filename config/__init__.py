"""Configuration: the typed settings every process reads once at start (settings.py)."""
