"""Where records live: the live SQLite db on the home host (db: opening, every SQL statement;
schema and its migrations), its sync to the area's megatest.db (sync, syncmark), the
per-host read copy of megatest.db (readcopy), the home host (homehost) and file locks.

Owns every SQL statement and every database file.
May import: the foundation only.
"""
