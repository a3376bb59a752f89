"""The table and the files dkluq writes, knowing nothing of crystals or models.

:mod:`.table` (column names, units, validated CSV/Parquet reading and writing) and
:mod:`.output` (atomic, non-clobbering writes, output folders, JSON).
"""
