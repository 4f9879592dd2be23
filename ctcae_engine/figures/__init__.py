"""Figures: SVG drawing (``draw``, matplotlib) and the report's figures shaped from the derived frames (``study``)."""
