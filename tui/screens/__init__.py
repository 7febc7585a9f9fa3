"""One screen per file; the app switches between them as modes so each keeps its state."""
