"""Reading exports into canonical rows: readers, column contracts, normalisation, assembly."""
