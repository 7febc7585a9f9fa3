"""Scenarios -> chat training data: tool-call conversion, augmentation, balance, split, output.

The stage entry point is :func:`dndtune.dataset.build.build_dataset`; it is not imported here so
that ``import dndtune.dataset`` stays light (``datasets`` pulls in pyarrow).
"""
