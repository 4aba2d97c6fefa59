"""Reporting: normalized tables, claim statistics, figures."""
