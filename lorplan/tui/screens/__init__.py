"""Screens of the planner, each with its own .tcss."""
