"""Integrating care across facilities (F8, F18, F19): volume per provider, site and clinician,
minimum-volume standards, volume and value, consolidation and phase-shift scenarios with capacity
checks, hub-and-spoke affiliations and the IPU integration assessment.

Every function takes Ibis tables (or small aggregated pandas frames) and definitions and returns
tables; none names a condition, a measure or a facility."""
