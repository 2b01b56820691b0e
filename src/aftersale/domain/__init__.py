"""Domain vocabulary with no I/O: the canonical tables, money, event names, spreadsheet safety."""
