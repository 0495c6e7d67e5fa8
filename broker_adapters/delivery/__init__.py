"""Delivery: hands routed messages from ``hub.outbound`` to each receiver's endpoint.

Others may import :class:`~broker_adapters.delivery.worker.DeliveryComponent` and
:func:`~broker_adapters.delivery.worker.build_endpoints` (the composition root),
:class:`~broker_adapters.delivery.settings.DeliverySettings`,
:class:`~broker_adapters.delivery.mailbox_store.MailboxStore`,
:func:`~broker_adapters.delivery.mailbox_api.mailbox_router` (the mailbox HTTP API) and
the endpoint interface in :mod:`~broker_adapters.delivery.base`. Nothing is
imported here, so reading the settings does not load the endpoints' clients.

Inside: :mod:`~broker_adapters.delivery.decision` is the policy as pure functions
(``Delivered | WaitBehind | Retry | GiveUp``), :mod:`~broker_adapters.delivery.effects`
applies a decision, :mod:`~broker_adapters.delivery.worker` is the loop around them.
"""
