"""The storyboard itself: shots, the grammars people type, user-facing errors and time."""
