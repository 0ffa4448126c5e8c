"""Skill policies (filled by the skills issue)."""
