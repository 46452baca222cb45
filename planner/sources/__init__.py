"""Adapters that read the outside world (manifest files, a live cluster, traffic data) into
plain data for the domain. Each one raises only :mod:`planner.errors` types and prints nothing.
"""
