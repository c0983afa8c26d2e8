"""The job engine: the jobs table, states and steps, the scheduler, and the delivery."""
