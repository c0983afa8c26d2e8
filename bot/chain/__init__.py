"""Long storyboards: split into segments a model takes, generated in order and joined."""
