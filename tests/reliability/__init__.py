"""Reliability: bad input gets one clear line, nothing is lost, nothing escapes (pytest tests/reliability)."""
