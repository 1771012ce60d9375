"""Campaigns: the lifecycle (draft, scheduled, running, paused, completed, cancelled)."""
