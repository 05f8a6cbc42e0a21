"""What the operator and an engine's sidecar agree on to deliver policies (the operator side
imports these through airlock_operator.settings)."""

# Keys of the bootstrap Secret (a kubernetes.io/tls Secret with the CA beside the pair), as
# files of its volume.
CA_CERT_KEY = "ca.crt"
TLS_CERT_KEY = "tls.crt"
TLS_KEY_KEY = "tls.key"

# The sidecar's policies travel over the same ADS stream as Envoy's configuration, as one
# resource holding the YAML documents (google.protobuf.StringValue).
POLICY_TYPE_URL = "type.googleapis.com/google.protobuf.StringValue"
POLICY_RESOURCE = "policies"
