"""Envoy ext_proc sidecar and local gateway for the airlock_filters engine."""
