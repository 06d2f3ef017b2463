"""Onboarding, identity, sanctions and risk. Models arrive with their issues; register each with the audit trail."""
