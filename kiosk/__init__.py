"""Smile Mirror's pygame program: the app loop, states, rendering, displays and the CLI."""
