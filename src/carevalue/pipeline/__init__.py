"""Orchestration: the stage protocol, the ordered stages, and runs that publish atomically."""
