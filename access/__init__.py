"""Who may use the hub: principals, their credentials and roles, and the file they live in.

HelseID access tokens with DPoP proofs, as NHN's message server takes them, are
checked by :mod:`access.helseid` (see ``access/README.md``).

Authentication (a token, an AMQP queue, a file inbox or a Kafka topic to a
principal) and the roles it grants live here; whether a principal may send
*as a given party* is routing's decision (:mod:`routing.authorisation`), made
on the party the address register resolves.
"""
