"""Drafts: storyboards being written, their revisions and editors, and the edits applied."""
