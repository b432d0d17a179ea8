"""Routing between a small and a frontier model (or among N models): routers trained in Python on
real per-query outcomes, run by the C++ core; evaluation with RouteLLM's and RouterBench's
published protocols. Training, evaluation and plotting import scikit-learn/pandas/matplotlib
lazily."""

from __future__ import annotations

from .core import FeatureConfig, Router, dense_signal_names, featurize

__all__ = ["FeatureConfig", "Router", "dense_signal_names", "featurize"]
