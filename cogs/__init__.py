"""The Discord adapters: one cog per surface, each a thin layer over the core."""
