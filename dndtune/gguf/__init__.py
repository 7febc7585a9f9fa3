"""GGUF files as data: the header reader and writer, whole-file checks, the table of quantization types."""
