"""Converters from the official releases of the benchmark corpora to the
runners' formats (NER TSV, RE TSV), each with a report of what it counted
and what it skipped. `biocodes/convert_official.py` is their command line.
"""
