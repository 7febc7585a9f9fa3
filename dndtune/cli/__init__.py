"""The headless face of dndtune: argparse subcommands over the pipeline API."""
