"""Thin click front-ends: `skel` (data) and `focovil` (training and evaluation)."""
