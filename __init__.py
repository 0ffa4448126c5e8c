"""foreman: a language model plans, reinforcement-learned skills execute."""

__version__ = "0.1.0"
