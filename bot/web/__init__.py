"""The HTTP server: kie.ai callbacks and their tokens, health, metrics and media links."""
