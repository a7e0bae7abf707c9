"""Clients for outside systems (Runware, ...): no Django imports, plain data in and out."""
