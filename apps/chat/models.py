"""Conversations, the assistant and human handoff.

Models arrive with their issues; each is registered with the audit trail
(apps/compliance/audit.py) or listed there as exempt with a reason.
"""
