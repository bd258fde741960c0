"""Tests of the terminal UI (`nndoctor ask`)."""
