"""The operator of the Airlock-compatible WAF gateway: CRDs now, the kopf controllers later."""
