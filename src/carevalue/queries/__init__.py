"""Read-only queries over the store: JSON-serialisable rows, small cells suppressed."""
