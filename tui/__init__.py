"""The Textual face of dndtune: ``dndtune`` with no arguments opens it.

The library never imports this package; every screen calls the same pipeline API the
headless CLI uses and only shows what it reports.
"""
