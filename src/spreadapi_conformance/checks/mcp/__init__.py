"""MCP checks (see the package docstring for the layout)."""
