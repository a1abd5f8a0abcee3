"""saess: explicit safety signals for causal language models (Li & Kim, ICML 2025)."""

__version__ = "0.1.0"
