"""The conformance checks: one pytest function per requirement of ``catalog.toml``, against any target.

A check's ID is ``AREA-GROUP-NNN``; it lives in ``checks/<area>/test_<group>.py`` (``OAUTH-TOKEN-007`` in
``checks/oauth/test_token.py``), and its docstring starts with the ID and the level. Helpers of an area
are in its ``_support.py``; nothing here imports the reference: a check talks HTTP (and stdio, for the
Claude Desktop replay) to the target that :mod:`.plugin` gives it.
"""
