"""Smile Mirror's headless engine: frames in, smile readings out. No pygame here."""
