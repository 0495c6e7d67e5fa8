"""The pipeline: envelope, classify, validate, check sender, resolve, decide; AppRec; dedup.

Routing decisions are pure functions of an envelope and a register snapshot;
routing knows nothing about transports. Every ``MessageEvent`` and ``RejectedMessage``
the hub writes, in any stage, is built by :mod:`routing.events`.
"""
