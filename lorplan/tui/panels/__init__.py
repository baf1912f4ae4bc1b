"""Panels of the planner: the parts of a tab (plan, setup, GPU, data, probes), each with its own .tcss."""
