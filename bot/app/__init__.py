"""Running the bot: command line, start-up, doctor, wiring of the core, logs and signals."""
