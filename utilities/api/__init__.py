"""The API plumbing every app's DRF views share: the error envelope, pagination, schema."""
