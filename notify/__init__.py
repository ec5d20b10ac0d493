"""Telling citizens and partners what happened: messages composed from the outbox and sent."""
