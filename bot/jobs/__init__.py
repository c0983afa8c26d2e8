"""The job engine: a job's states and the transitions allowed between them."""
