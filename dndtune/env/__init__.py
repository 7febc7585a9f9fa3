"""The environment check (doctor) and the peak-memory estimator."""
