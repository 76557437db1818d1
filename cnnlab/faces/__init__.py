"""Helpers behind the command line (``cnnlab.cli``)."""
