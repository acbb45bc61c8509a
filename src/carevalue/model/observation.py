"""Tables the observation-period step writes (engine/observation.py)."""

from __future__ import annotations

from carevalue.model.schema import Column, Table

TABLES: tuple[Table, ...] = (
    Table("observation_periods",
          "Spans in which the data can see a patient (OMOP observation_period), from counted encounters "
          "and claims by the rule in content/observation-periods.", ("period_id",), (
              Column("period_id", "VARCHAR", "patient_id:period_start.", True),
              Column("patient_id", "VARCHAR", "Patient.", True),
              Column("period_start", "DATE", "First observed day.", True),
              Column("period_end", "DATE", "Last observed day (inclusive).", True),
              Column("at_data_end", "BOOLEAN", "The period reaches the data's last date (still observed)."),
              Column("records", "BIGINT", "Observing records (encounters, claims) in the period."),
          ), stage="observation"),
)
