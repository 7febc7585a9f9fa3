"""Base models: profiles (templates, tokens, sizes), resolution (local, cache, hub, PyPI) and compatibility."""
