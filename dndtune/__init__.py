"""dndtune: turn Markdown D&D scenarios into a small fine-tuned game-master model."""

__version__ = "0.1.0"
