"""nndoctor: a rule-based troubleshooting assistant for neural-network training."""

__version__ = "0.1.0"
