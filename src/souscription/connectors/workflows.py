"""Discovered before DBOS launches: the vendor-call workflow and one rate-limited queue per vendor-served port."""

from souscription.connectors import calls

calls.declare_queues()
