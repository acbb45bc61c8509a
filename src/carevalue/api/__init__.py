"""The REST API: one Workspace behind versioned routes, with roles, tokens and an append-only audit log."""
