"""Command line: ``joinedup <noun> <verb>`` plus the top-level ``demo`` and ``simulate``.

Commands are thin: parse, call the room that does the work, render a rich table or ``--json``.
"""
