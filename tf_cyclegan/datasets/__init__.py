"""Datasets for tf_cyclegan (offline, procedurally generated ones included)."""
