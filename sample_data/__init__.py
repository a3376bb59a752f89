"""Sample-data generator for dkluq (not part of the installed package; needs the ``sample-data`` extra)."""
