"""Planners (filled by the planner issue)."""
