"""Run records: atomic JSON records and the tidy table over them."""
