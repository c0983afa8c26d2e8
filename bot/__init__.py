"""A Discord bot that turns a reference image and a list of shots into a short video."""
