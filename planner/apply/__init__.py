"""Applying plan steps: the engine, its journal file and the two writers (a live cluster
through the Kubernetes API, or GitOps files in a folder)."""
