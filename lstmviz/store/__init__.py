"""The extraction file: its on-disk spec and rules, the writer, the lazy reader and validation.

Nothing here needs torch: a file is read, checked and written with h5py and numpy alone.
"""
