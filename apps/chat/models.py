"""Conversations, the assistant and human handoff. Models arrive with their issues; register each with the audit trail."""
