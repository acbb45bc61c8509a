"""Read-only questions the interfaces ask (CLI, report, dashboard, API), with one privacy module."""
