"""Format-faithful synthetic raw data: scenes seen by several cameras under rigid transforms.

`motion.py` makes class-dependent 3D performances, `cameras.py` places the cameras and
simulates what each one cannot see, and one writer module per raw format lays files out
exactly as the real dataset does.
"""
