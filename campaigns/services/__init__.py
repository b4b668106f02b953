"""Every write of the campaigns app: the outbox and its relay, templates, webhooks."""
