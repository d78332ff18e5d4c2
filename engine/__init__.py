"""The Neurocanvas engine: everything that computes with a graph.

Shape inference (`engine.shapes`) is pure Python and imports no torch, so the
editor can show shapes before torch has loaded. Compiling, data, training and
export import torch on first use.
"""
