"""The pure domain: data in, data out. No files, network, terminal or UI imports here."""
