"""The catalog service: what the public site shows, in four languages."""
