"""Scoring, alerts, cases and disputes. Models arrive with their issues; register each with the audit trail."""
