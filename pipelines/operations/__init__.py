"""Orchestration around the data flow: sensors and schedules that start the stages (not a data stage)."""
