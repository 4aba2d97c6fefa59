"""Run records: atomic JSON records (records), the tidy table over them (table), and
what every run records about itself (provenance). Names are re-exported lazily; records
imports nothing heavy.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "records": [
        "RECORD_NAME", "SCHEMA_VERSION", "REQUIRED_KEYS", "CorruptRecordError", "process_umask",
        "shared_mode", "atomic_write_text", "write_record", "read_record", "iter_records"
    ],
    "table": [
        "collect", "table_csv"
    ],
    "provenance": [
        "package_versions", "git_commit", "provenance", "start_run"
    ],
})
