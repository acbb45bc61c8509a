"""FHIR R4B out: Questionnaires for the PROM instruments, Measures from the condition templates,
MeasureReports from the measure tables, and an NDJSON extract. Pure functions of definitions and rows."""
