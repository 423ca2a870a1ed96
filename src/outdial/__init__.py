"""outdial: a self-hostable outbound call campaign platform."""

__version__ = "0.1.0"
