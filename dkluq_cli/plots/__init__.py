"""Figures dkluq writes (matplotlib, no display needed); one module per command family."""
