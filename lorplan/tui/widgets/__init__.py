"""Widgets of the planner: small reusable pieces (field input, model picker, rank table), each with its own
.tcss next to it, loaded by the screen that uses it."""
