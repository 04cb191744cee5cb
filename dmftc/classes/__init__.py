"""Model classes."""
