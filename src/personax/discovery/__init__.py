"""Causal discovery: PC with background knowledge that always holds, graph files, drawings."""

from personax.discovery.draw import infer_group, write_graph
from personax.discovery.graph import CausalGraph, Edge
from personax.discovery.knowledge import Knowledge, KnowledgeViolation
from personax.discovery.search import discover

__all__ = [
    "CausalGraph",
    "Edge",
    "Knowledge",
    "KnowledgeViolation",
    "discover",
    "infer_group",
    "write_graph",
]
