"""Fake CRM servers and adapters: real implementations on loopback, never client-side mocks."""
