"""Configuration: the settings model and where each value comes from."""
