"""The OCI registry client: one session's connections, credentials, tokens, pacing and metadata cache, and the
distribution API (tags, manifests, blobs) of one repository. Image and chart discovery and the oci-push and
oci-download steps use it; it knows nothing of Warehouses or promotions."""
