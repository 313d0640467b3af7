"""Flows: the use cases that coordinate several capabilities, above them and below the edges.

A flow reads what it needs, asks the capabilities' rules what to do, writes everything in one transaction
with the change's events, and returns a typed result; an edge (a route, a Lambda handler) calls one flow.
"""
