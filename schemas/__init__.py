"""The hub's message vocabulary: catalogue, secure XML parsing, XSD validation and Avro records.

Others may import :mod:`schemas.vocabulary` (closed sets: families, categories,
AppRec codes, event types) from anywhere, including :mod:`metrics`; the parser,
envelope reader, validators and Avro codec are for routing, adapters and the CLI.
"""
