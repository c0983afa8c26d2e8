"""Media files: reading, checking and joining the videos the bot makes."""
