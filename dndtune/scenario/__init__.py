"""Markdown scenarios: parse, validate, load, format, index."""
