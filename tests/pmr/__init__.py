"""Tests of the PMR client, simulator and contract (plain pytest, no database)."""
