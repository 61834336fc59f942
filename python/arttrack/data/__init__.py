"""Datasets: readers of the public pose datasets and a procedural synthetic generator."""
