"""Shared Discord pieces: persistent components, forms, languages and permissions."""
