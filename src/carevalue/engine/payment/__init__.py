"""Paying for value (F15-F17, F22): bundles with warranties, time-based payments, CMS episode-model
reconciliation and the per-patient value ledger. Pure functions from per-cycle frames and
definitions to payments; the engine never names a condition, segment or programme."""
