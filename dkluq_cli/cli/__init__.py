"""The Typer command-line layer: options, rich output, and error translation only."""
