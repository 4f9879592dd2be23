"""ctcae-engine: CTCAE v4.03 grading, safety aggregation and DSMB reporting."""

__version__ = "0.1.0"
CTCAE_VERSION = "4.03"
