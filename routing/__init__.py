"""The pipeline: envelope, classify, validate, check sender, resolve, decide; AppRec; dedup.

Routing decisions are pure functions of an envelope and a register snapshot;
routing knows nothing about transports.
"""
