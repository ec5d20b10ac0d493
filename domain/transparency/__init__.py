"""A transparency log for hoso's record: RFC 9162 Merkle trees and C2SP signed checkpoints.

Pure functions and values only; nothing here knows about dossiers or storage.
"""
