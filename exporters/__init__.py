"""Built-in formats: registered through the records_toolkit.formats entry points like any plugin."""
