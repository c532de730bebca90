"""Memory forecast, planner and live telemetry (NVML, torch, RSS)."""
