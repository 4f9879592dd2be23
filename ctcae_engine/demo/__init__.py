"""The embedded demo trial (NCT04627740-shaped): configuration and generated data."""
