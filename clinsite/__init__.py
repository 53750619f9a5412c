"""clinsite: a static-site generator for citable, reviewed clinical summaries."""

__version__ = "0.1.0"
