"""Stored files: what a member may keep, for how long, and sweeping what expired."""
